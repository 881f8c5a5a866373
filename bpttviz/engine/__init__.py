"""bpttviz's engine: numpy (with the tanh RNN's few unbatchable loops compiled by Numba when it
is installed, see :mod:`bpttviz.engine.kernels`); it never imports Qt.

Its product is a :class:`Trace` (see :mod:`bpttviz.engine.model`): every forward and backward
intermediate of one window, per timestep, as arrays with documented shapes.
"""
from .bugs import BUG_INFO, BUGS, bugs_for, check_bug
from .cells import CELLS, GATES, GATE_NAMES, sigmoid, step_backward, step_forward
from .cellspec import (CellSpec, GateSpec, check_cell, get_cell, register_cell, registered_cell,
                       unregister_cell)
from .clipping import CLIP_MODES, ClipReport, clip_gradients, global_norm
from .gradcheck import GradCheckEntry, check_gradients, gradient_check, relative_error
from .model import (PARAM_NAMES, Forward, Trace, check_params, forward, init_params,
                    param_shapes, run_bptt)
from .sampling import sample

__all__ = [
    "BUGS", "BUG_INFO", "bugs_for", "check_bug",
    "CELLS", "GATES", "GATE_NAMES", "sigmoid", "step_forward", "step_backward",
    "CellSpec", "GateSpec", "check_cell", "get_cell", "register_cell", "registered_cell",
    "unregister_cell",
    "CLIP_MODES", "ClipReport", "clip_gradients", "global_norm",
    "GradCheckEntry", "check_gradients", "gradient_check", "relative_error",
    "PARAM_NAMES", "Forward", "Trace", "check_params", "forward", "init_params",
    "param_shapes", "run_bptt", "sample",
]

from .captioning import (CAPTION_CELLS, CAPTION_PARAM_NAMES, CaptionDataset, CaptionTrace,
                         CaptionTrainer, caption_forward_backward, caption_loss, caption_sample,
                         decode_captions, init_caption_params, load_caption_dataset,
                         make_synthetic_dataset)

__all__ += [
    "CAPTION_CELLS", "CAPTION_PARAM_NAMES", "CaptionDataset", "CaptionTrace", "CaptionTrainer",
    "caption_forward_backward", "caption_loss", "caption_sample", "decode_captions",
    "init_caption_params", "load_caption_dataset", "make_synthetic_dataset",
]
