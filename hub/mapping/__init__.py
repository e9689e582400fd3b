"""The YAML mapping engine: JMESPath sources, named transforms, checked at load.

``load_mapping_file`` compiles a mapping once; ``CompiledMapping.apply`` maps one
document and returns a :class:`MappingResult` or raises with every problem located.
"""

from hub.mapping.compiler import CompiledMapping, load_mapping_file, load_mapping_text
from hub.mapping.engine import Discrepancy, ExplainEntry, MappingResult, apply_mapping

__all__ = [
    "CompiledMapping",
    "Discrepancy",
    "ExplainEntry",
    "MappingResult",
    "apply_mapping",
    "load_mapping_file",
    "load_mapping_text",
]
