"""The classes the emulated host knows.

The declarations (names, properties, CIM types, keys, method parameters)
are facts about Hyper-V's WMI classes that the WS-Management transport
needs too, so they live in :mod:`winstackers.cim.mof`; declare new classes
there.  This module gives the emulator its view of them.
"""

from winstackers.cim.mof import CLASSES, SCHEMA, CimClass, Prop, Schema

__all__ = ["CLASSES", "SCHEMA", "CimClass", "Prop", "Schema"]
