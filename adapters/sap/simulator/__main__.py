"""``python -m adapters.sap.simulator --port N``."""

from adapters.sap.simulator.runner import main

raise SystemExit(main())
