"""Type stub of `synplast.fsbi` (see `fsbi.py` for the documentation)."""
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

PARAMS: Tuple[str, ...]
METRICS: Tuple[str, ...]
TYPES: Tuple[str, ...]
NETWORK: Dict[str, Any]
PRIOR_LOW: np.ndarray
PRIOR_HIGH: np.ndarray

def simulate(
    params: Any,
    seed: int = ...,
    threads: Optional[int] = ...,
    types: Sequence[str] = ...,
    progress: Optional[Callable[[int, int, str], Any]] = ...,
    **network_options: Any,
) -> np.ndarray:
    """Simulate each row of params ([n, 24] or [n, 6k]) as doublet rules in the fSBI network;
    returns float64 [n, len(METRICS)]."""
