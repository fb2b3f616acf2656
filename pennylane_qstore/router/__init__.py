"""The ``qstore.router`` device: routes each tape to the best available simulator target.

Public API: :class:`RouterDevice` (``qml.device("qstore.router")``), :class:`RoutingPolicy`,
:class:`RoutingRecord`, and target registration (:func:`register_target` and friends).
"""

from .device import RouterDevice
from .execution import RoutingError
from .policy import RoutingPolicy, TapeInfo, default_policy, set_default_policy
from .record import Failure, Route, RoutingRecord
from .targets import (
    TargetSpec,
    get_target,
    register_target,
    registered_targets,
    unregister_target,
)

__all__ = [
    "Failure",
    "Route",
    "RouterDevice",
    "RoutingError",
    "RoutingPolicy",
    "RoutingRecord",
    "TapeInfo",
    "TargetSpec",
    "default_policy",
    "get_target",
    "register_target",
    "registered_targets",
    "set_default_policy",
    "unregister_target",
]
