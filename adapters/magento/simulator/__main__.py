"""``python -m adapters.magento.simulator --port N``."""

from adapters.magento.simulator.runner import main

raise SystemExit(main())
