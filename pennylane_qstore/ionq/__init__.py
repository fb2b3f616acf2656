"""IonQ support: native gates (:mod:`.ops`), the native-gate compiler (:mod:`.compiler`) and the
``ionq.circuit.v1`` native JSON view (:mod:`.native`).

Only light modules are imported here; the device, client and server live in their own modules.
"""

from pennylane_qstore.ionq.ops import GPI, GPI2, MS, ZZ, rad_to_turns, turns_to_rad, wrap_turns

__all__ = ["GPI", "GPI2", "MS", "ZZ", "rad_to_turns", "turns_to_rad", "wrap_turns"]
