"""The cell registry: one :class:`CellSpec` per recurrent cell holds everything any part of the
app needs to know about it, so that adding a cell is one module plus one :func:`register_cell`.

What reads it: the engine (:func:`~bpttviz.engine.model.init_params`, ``check_params``,
``run_bptt``, ``forward``, ``sample``, the contribution analysis, the captioning model), the
header and help texts (:mod:`bpttviz.explain`) and the code panel (its listing and the numbers
it prints).  ``CELLS`` keeps registration order; the built-in cells ``rnn``, ``lstm`` and
``gru`` are registered by :mod:`bpttviz.engine.cells` when the engine is imported.

A cell works on row vectors with any leading shape (see :mod:`bpttviz.engine.cells`):

* ``step_forward(ax, h_prev, Wh, c_prev) -> StepCache``: ``ax (..., G*H)`` the input part of
  the pre-activation (bias included), ``h_prev (..., H)``, ``Wh (H, G*H)`` the recurrent
  matrix in row-vector orientation, ``c_prev (..., H)`` or None (cells with a cell state).
* ``step_backward(dh, cache, Wh, dc_next) -> StepGrad``: ``dh (..., H)`` the total gradient
  at h_t, ``dc_next (..., H)`` or None the gradient reaching c_t from step t+1.  A cell that
  implements some gallery bugs (:mod:`bpttviz.engine.bugs`) lists them in ``cell_bugs`` and
  also accepts ``bug=NAME``; it is only ever called with a bug it lists.

Code listings are pure data: one line of code per line, each prefixed by a one-character tag
and ``|`` (see :func:`parse_listing`): ``f``/``F`` forward loop (``F`` = the line producing the
event's main result), ``b``/``B`` backward loop, a space for lines no event runs.
"""
from __future__ import annotations

import contextlib
import keyword
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterator, List, Optional, Tuple


@dataclass(frozen=True)
class GateSpec:
    """One per-unit quantity a cell computes besides h (a gate, a candidate).

    name: the key in ``trace.gates`` (e.g. "f"); label: short name ("forget gate");
    meaning: one line for hover read-outs and tooltips; activation: "sigmoid" (values in
    [0, 1]) or "tanh" ([-1, 1]), which fixes the colour scale a view uses.
    """

    name: str
    label: str
    meaning: str
    activation: str = "sigmoid"


@dataclass(frozen=True)
class CellSpec:
    """Everything the app needs about one recurrent cell.

    name: registry key and the value of ``cell=`` everywhere ("rnn").
    title: what a menu shows ("tanh RNN").
    G: number of gate blocks; every weight into the cell has G*H rows (seed orientation).
    gates: the GateSpecs of the quantities in ``trace.gates``, in block order.
    step_forward, step_backward: the paired step functions (module docstring).
    has_cell_state: True when the cell carries a second state c (the LSTM): forward gets
      ``c_prev``, backward ``dc_next``, and traces keep c, dc, dcnext.
    recurrent_param: the name of the recurrent matrix in the character model ("Whh").
    forward_eq, backward_eq: the equations the header and help show for a forward /
      backward event (seed 000's notation).
    forward_code, backward_code: the code panel's listing of the forward and backward loops
      (tagged lines, see :func:`parse_listing`); the backward listing starts after the
      gradient initialisation the panel prints for every cell.
    forward_values, backward_values: the numbers the code panel prints at a step, after the
      ones every cell has: ``(label, source)`` where source is ``"gates.NAME"`` or a Trace
      attribute with one row per step ("c", "dax", "dah", "dc").
    formulas: ``(quantity, formula)`` pairs, the formula of h, c and every gate for hover
      read-outs; backward_formula: how ``dhnext`` is made, for the dhnext view's read-out.
    cell_bugs: gallery bugs the step_backward implements itself (accepts ``bug=``).
    fast_kernel: name of a compiled whole-window kernel family the engine has for this cell
      (only "tanh-rnn" exists); None runs the generic step loop.
    blurb: one line for tooltips and help ("plain tanh RNN (min-char-rnn)").
    """

    name: str
    title: str
    G: int
    gates: Tuple[GateSpec, ...]
    step_forward: Callable
    step_backward: Callable
    has_cell_state: bool = False
    recurrent_param: str = "Whh"
    forward_eq: str = ""
    backward_eq: str = ""
    forward_code: str = ""
    backward_code: str = ""
    forward_values: Tuple[Tuple[str, str], ...] = ()
    backward_values: Tuple[Tuple[str, str], ...] = (("dax", "dax"), ("dah", "dah"))
    formulas: Tuple[Tuple[str, str], ...] = ()
    backward_formula: str = ""
    cell_bugs: FrozenSet[str] = field(default_factory=frozenset)
    fast_kernel: Optional[str] = None
    blurb: str = ""

    @property
    def gate_names(self) -> Tuple[str, ...]:
        """Names of the gate quantities in block order (``()`` for the tanh RNN)."""
        return tuple(g.name for g in self.gates)

    def gate(self, name: str) -> GateSpec:
        for g in self.gates:
            if g.name == name:
                return g
        raise KeyError(f"cell {self.name!r} has no gate {name!r}; it has "
                       f"{', '.join(self.gate_names) or 'none'}")

    def formula(self, quantity: str) -> str:
        """The hover formula of h, c or a gate ('' if the spec gives none)."""
        return dict(self.formulas).get(quantity, "")

    def forward_listing(self) -> List[Tuple[str, str]]:
        return parse_listing(self.forward_code)

    def backward_listing(self) -> List[Tuple[str, str]]:
        return parse_listing(self.backward_code)


#: name -> CellSpec, in registration order.  Change it only through register_cell /
#: unregister_cell (they keep GATES and GATE_NAMES in step).
CELLS: Dict[str, CellSpec] = {}
#: name -> G, and name -> gate names: views of CELLS kept for older callers.
GATES: Dict[str, int] = {}
GATE_NAMES: Dict[str, Tuple[str, ...]] = {}

_TAGS = " fFbBcCuU"


def parse_listing(text: str) -> List[Tuple[str, str]]:
    """``[(code, tag)]`` from a tagged listing: every line is ``T|code`` with T one of
    ``f F b B c C u U`` or a space (no event runs the line; returned as tag '')."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if len(line) < 2 or line[1] != "|" or line[0] not in _TAGS:
            raise ValueError(f"listing line {n} must start with a tag character and '|' "
                             f"(e.g. 'f|for t in ...'); got {line!r}")
        out.append((line[2:], line[0].strip()))
    return out


def check_cell(cell) -> str:
    """Return ``cell`` if it names a registered cell, else raise ``ValueError`` naming them."""
    if not isinstance(cell, str) or cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
    return cell


def get_cell(cell) -> CellSpec:
    """The CellSpec of a registered cell (ValueError naming the cells otherwise)."""
    return CELLS[check_cell(cell)]


def _validate(spec: CellSpec) -> None:
    if not isinstance(spec, CellSpec):
        raise ValueError(f"register_cell needs a CellSpec; got {type(spec).__name__}")
    if not (isinstance(spec.name, str) and spec.name and spec.name.replace("-", "_").isidentifier()
            and not keyword.iskeyword(spec.name)):
        raise ValueError(f"a cell name must be a short word (letters, digits, - or _); got "
                         f"{spec.name!r}")
    if isinstance(spec.G, bool) or not isinstance(spec.G, int) or spec.G < 1:
        raise ValueError(f"cell {spec.name!r}: G (gate blocks) must be a whole number >= 1; got "
                         f"{spec.G!r}")
    if not (callable(spec.step_forward) and callable(spec.step_backward)):
        raise ValueError(f"cell {spec.name!r}: step_forward and step_backward must be functions")
    names = [g.name for g in spec.gates]
    if len(set(names)) != len(names) or any(not isinstance(g, GateSpec) for g in spec.gates):
        raise ValueError(f"cell {spec.name!r}: gates must be GateSpecs with distinct names")
    for g in spec.gates:
        if g.activation not in ("sigmoid", "tanh"):
            raise ValueError(f"cell {spec.name!r}: gate {g.name!r} activation must be 'sigmoid' or "
                             f"'tanh'; got {g.activation!r}")
    parse_listing(spec.forward_code)
    parse_listing(spec.backward_code)


def register_cell(spec: CellSpec, replace: bool = False) -> CellSpec:
    """Add a cell to the registry (``replace=True`` to redefine one); returns the spec.
    Raises ValueError for a malformed spec or a name already taken."""
    _validate(spec)
    if spec.name in CELLS and not replace:
        raise ValueError(f"cell {spec.name!r} is already registered (pass replace=True to "
                         "redefine it)")
    CELLS[spec.name] = spec
    GATES[spec.name] = spec.G
    GATE_NAMES[spec.name] = spec.gate_names
    return spec


def unregister_cell(name: str) -> CellSpec:
    """Remove a cell from the registry and return its spec (KeyError if it is not there)."""
    spec = CELLS.pop(name)
    GATES.pop(name, None)
    GATE_NAMES.pop(name, None)
    return spec


@contextlib.contextmanager
def registered_cell(spec: CellSpec) -> Iterator[CellSpec]:
    """``with registered_cell(spec):`` the cell exists inside the block only (tests, plugins
    tried out); a cell of that name registered before is restored afterwards."""
    before = list(CELLS.values())
    register_cell(spec, replace=True)
    try:
        yield spec
    finally:
        for name in list(CELLS):
            unregister_cell(name)
        for old in before:  # the same cells in the same order as before the block
            register_cell(old)
