"""Integer enumerations that print as their names.

Since Python 3.11 an `enum.IntEnum` member's str() and format() are its bare integer
(`f"{ProgressKind.PHASE}"` gives "1"). The package's enumerations compare, hash and
convert as their integers (they mirror the C ABI's codes) but print as
`ProgressKind.PHASE`; a numeric format spec (`f"{kind:d}"`, `f"{kind:02x}"`) still
formats the integer, and repr() is the usual `<ProgressKind.PHASE: 1>`.
"""
import enum

# The presentation types of int's format spec that mean "the number".
_NUMERIC = frozenset("bcdoxXneEfFgG%")


def _str(self):
    return f"{type(self).__name__}.{self.name}"


def _format(self, spec):
    if spec and spec[-1] in _NUMERIC:
        return int.__format__(int(self), spec)
    return format(_str(self), spec)


def print_names(cls):
    """Makes an existing IntEnum class print its members' names (str and format)."""
    cls.__str__ = _str
    cls.__format__ = _format
    return cls


@print_names
class NamedIntEnum(enum.IntEnum):
    """An IntEnum whose members print as `Class.NAME` (str and format)."""
