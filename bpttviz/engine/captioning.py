"""cs231n's CaptioningRNN (seed 004) on top of our cells, with a per-timestep trace.

An image feature vector sets the initial hidden state, then the recurrent network reads a
caption one word at a time and predicts the next word.  Parameters keep the assignment's
names and orientation (row vectors: ``a = x @ Wx + b + h_prev @ Wh``):

==========  ============  =============================================
name        shape         role
==========  ============  =============================================
W_embed     (V, W)        word vectors (row i embeds word i)
W_proj      (D, H)        image feature to initial hidden state
b_proj      (H,)          its bias
Wx          (W, G*H)      word vector to every gate block
Wh          (H, G*H)      previous hidden state to every gate block
b           (G*H,)        gate-block biases
W_vocab     (H, V)        hidden state to word scores
b_vocab     (V,)          score biases
==========  ============  =============================================

Sizes: N captions in a minibatch, T timesteps (captions hold T+1 words), D feature size,
W word-vector size, H hidden size, V vocabulary size, G gate blocks (1 rnn, 4 lstm with
blocks i, f, o, g, 3 gru with z, r, n; any registered cell works).  The LSTM's initial cell
state is zero.

The loss is softmax cross-entropy at every step whose target word is not ``<NULL>``,
**summed** over timesteps and **divided by N** (cs231n's ``temporal_softmax_loss``).

The module also holds a tiny synthetic dataset ("a big red circle on left") that a preset
trains in seconds: :func:`make_synthetic_dataset` builds it, ``resources/captioning/shapes.npz``
is its shipped copy, and :func:`load_caption_dataset` reads it back without pickle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .caption_data import (END_TOKEN, NULL_TOKEN, SHAPES_VOCAB, START_TOKEN,  # noqa: F401
                           CaptionDataset, _check_captions, _check_size, decode_captions,
                           default_caption_dataset_path, load_caption_dataset,
                           make_synthetic_dataset, save_caption_dataset)
from .cells import CELLS, get_cell
from .optim import Adam

#: The cells the captioning model runs: every registered cell (the registry itself).
CAPTION_CELLS = CELLS
CAPTION_PARAM_NAMES = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

def check_caption_cell(cell: str) -> str:
    """Return ``cell`` if the captioning model supports it, else raise ``ValueError``."""
    if not isinstance(cell, str) or cell not in CAPTION_CELLS:
        raise ValueError(f"cell must be one of {', '.join(CAPTION_CELLS)}; got {cell!r}")
    return cell


def _check_index(name: str, value, V: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < V:
        raise ValueError(f"{name} must be a word index in [0, {V}); got {value!r}")
    return int(value)


def caption_param_shapes(cell: str, vocab_size: int, input_dim: int, wordvec_dim: int,
                         hidden_dim: int) -> Dict[str, tuple]:
    """Shapes of every parameter for a cell and sizes V, D, W, H (see the module table)."""
    G = get_cell(check_caption_cell(cell)).G
    V, D, W, H = vocab_size, input_dim, wordvec_dim, hidden_dim
    return {"W_embed": (V, W), "W_proj": (D, H), "b_proj": (H,), "Wx": (W, G * H),
            "Wh": (H, G * H), "b": (G * H,), "W_vocab": (H, V), "b_vocab": (V,)}


def check_caption_params(params: Dict[str, np.ndarray], cell: str) -> tuple:
    """Validate a parameter dict for ``cell``; return its sizes ``(V, D, W, H)``."""
    check_caption_cell(cell)
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of arrays named {', '.join(CAPTION_PARAM_NAMES)}; "
                         f"got {type(params).__name__}")
    missing = [k for k in CAPTION_PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {', '.join(missing)}; it needs "
                         f"{', '.join(CAPTION_PARAM_NAMES)}")
    if np.ndim(params["W_embed"]) != 2 or np.ndim(params["W_proj"]) != 2:
        raise ValueError("params['W_embed'] must be (V, W) and params['W_proj'] (D, H); got shapes "
                         f"{np.shape(params['W_embed'])} and {np.shape(params['W_proj'])}")
    V, W = np.shape(params["W_embed"])
    D, H = np.shape(params["W_proj"])
    expected = caption_param_shapes(cell, V, D, W, H)
    for k in CAPTION_PARAM_NAMES:
        if np.shape(params[k]) != expected[k]:
            raise ValueError(f"params[{k!r}] has shape {np.shape(params[k])}; cell {cell!r} with "
                             f"V={V}, D={D}, W={W}, H={H} needs {expected[k]}")
    return V, D, W, H


def _check_features(features, D: int) -> np.ndarray:
    arr = np.asarray(features)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] != D or arr.dtype.kind not in "fiu":
        raise ValueError(f"features must be a real (N, D) array with N >= 1 and D = {D} "
                         f"(the rows of params['W_proj']); got shape {arr.shape}, dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError("features must be finite; it holds NaN or infinity")
    return arr


# --------------------------------------------------------------------------------------------
# Parameters, loss and trace
# --------------------------------------------------------------------------------------------

def init_caption_params(cell: str, vocab_size: int, input_dim: int, wordvec_dim: int,
                        hidden_dim: int, seed: int = 0) -> Dict[str, np.ndarray]:
    """Random parameters drawn as CaptioningRNN.__init__ draws them, float64.

    W_embed ``randn / 100``; W_proj ``randn / sqrt(D)``; Wx ``randn / sqrt(W)``;
    Wh ``randn / sqrt(H)``; W_vocab ``randn / sqrt(H)``; all biases zero.
    Returns name -> array with the shapes of :func:`caption_param_shapes` (Wx, Wh, b carry
    G*H columns: H for rnn, 4H for lstm, 3H for gru).
    """
    check_caption_cell(cell)
    V = _check_size("vocab_size", vocab_size, 2, 100_000)
    D = _check_size("input_dim", input_dim, 1, 100_000)
    W = _check_size("wordvec_dim", wordvec_dim, 1, 4096)
    H = _check_size("hidden_dim", hidden_dim, 1, 4096)
    shapes = caption_param_shapes(cell, V, D, W, H)
    rng = np.random.default_rng(seed)
    scale = {"W_embed": 1 / 100, "W_proj": 1 / np.sqrt(D), "Wx": 1 / np.sqrt(W),
             "Wh": 1 / np.sqrt(H), "W_vocab": 1 / np.sqrt(H)}
    params = {}
    for name in CAPTION_PARAM_NAMES:
        if name in scale:
            params[name] = rng.standard_normal(shapes[name]) * scale[name]
        else:
            params[name] = np.zeros(shapes[name])
    return params


def masked_softmax_loss(scores: np.ndarray, targets: np.ndarray, mask: np.ndarray):
    """cs231n's ``temporal_softmax_loss``, per step.

    scores (N, T, V); targets (N, T) indices; mask (N, T) bool (False = ignore the step).
    Returns ``(p, losses, dscores)``: softmax probabilities (N, T, V); masked cross-entropy
    of every step divided by N (N, T) -- their sum is the loss; and the gradient of the loss
    at the scores (N, T, V), zero at masked steps.
    """
    N = scores.shape[0]
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    z = e.sum(axis=-1, keepdims=True)
    p = e / z
    # log-softmax from the shifted scores stays finite where p underflows to 0.
    logp = np.take_along_axis(shifted, targets[..., None], axis=-1)[..., 0] - np.log(z[..., 0])
    losses = np.where(mask, -logp, 0.0) / N
    dscores = p.copy()
    np.put_along_axis(dscores, targets[..., None],
                      np.take_along_axis(dscores, targets[..., None], axis=-1) - 1.0, axis=-1)
    dscores *= mask[..., None] / N
    return p, losses, dscores


@dataclass
class CaptionTrace:
    """Every forward and backward intermediate of one minibatch, per timestep.

    N captions, T timesteps, D feature size, W word-vector size, H hidden size,
    V vocabulary size, G gate blocks.

    cell (str); null (int): the ``<NULL>`` index.
    captions_in (N, T): input words (captions[:, :-1]); captions_out (N, T): targets
    (captions[:, 1:]); mask (N, T) bool: ``captions_out != null``.
    h0 (N, H): ``features @ W_proj + b_proj``.
    x (N, T, W): word vectors of captions_in.
    preact (N, T, G*H): pre-activation of every gate block.
    gates: name -> (N, T, H): lstm i, f, o, g; gru z, r, n; empty for rnn.
    h (N, T, H): hidden states; c (N, T, H): lstm cell states, else None.
    scores (N, T, V): ``h @ W_vocab + b_vocab``; p (N, T, V): their softmax.
    losses (N, T): masked per-step cross-entropy divided by N; loss (float): their sum.
    dscores (N, T, V): gradient at the scores (zero at masked steps).
    dh_from_output (N, T, H): gradient reaching h_t from step t's own loss.
    dh (N, T, H): total gradient at h_t (own loss plus ``dhnext`` of step t+1).
    dhnext (N, T, H): gradient that step t sends back into h_{t-1}; ``dhnext[:, 0]`` is dh0.
    dc (N, T, H), dcnext (N, T, H): lstm total gradient at c_t and what step t sends to
      c_{t-1}; None for the other cells.
    dax (N, T, G*H): gradient at the input part of the pre-activation (-> Wx, b, x).
    dah (N, T, G*H): gradient at the recurrent part (-> Wh); equals dax except gru's n block.
    dx (N, T, W): gradient at the word vectors.
    dh0 (N, H): gradient at the initial hidden state.
    grads: name -> array, the parameters' shapes.
    """

    cell: str
    null: int
    captions_in: np.ndarray
    captions_out: np.ndarray
    mask: np.ndarray
    h0: np.ndarray
    x: np.ndarray
    preact: np.ndarray
    gates: Dict[str, np.ndarray]
    h: np.ndarray
    c: Optional[np.ndarray]
    scores: np.ndarray
    p: np.ndarray
    losses: np.ndarray
    loss: float
    dscores: np.ndarray
    dh_from_output: np.ndarray
    dh: np.ndarray
    dhnext: np.ndarray
    dc: Optional[np.ndarray]
    dcnext: Optional[np.ndarray]
    dax: np.ndarray
    dah: np.ndarray
    dx: np.ndarray
    dh0: np.ndarray
    grads: Dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def N(self) -> int:
        return int(self.h.shape[0])

    @property
    def T(self) -> int:
        return int(self.h.shape[1])

    @property
    def hidden_size(self) -> int:
        return int(self.h.shape[2])

    @property
    def vocab_size(self) -> int:
        return int(self.scores.shape[2])

    @property
    def step_losses(self) -> np.ndarray:
        """(T,) each timestep's share of the loss (summed over the minibatch)."""
        return self.losses.sum(axis=0)

    @property
    def grad_norms(self) -> Dict[str, float]:
        """name -> L2 norm of that parameter's gradient."""
        return {k: float(np.linalg.norm(v)) for k, v in self.grads.items()}


def caption_forward_backward(params: Dict[str, np.ndarray], features, captions, cell: str = "rnn",
                             null: int = 0) -> CaptionTrace:
    """Forward and backward pass of CaptioningRNN.loss, recording everything.

    params: dict as from :func:`init_caption_params`; features (N, D) real; captions (N, T+1)
    integer word indices in [0, V); null: the ``<NULL>`` index whose targets are ignored.
    Everything is batched over N and T except the recurrence itself.
    Returns a :class:`CaptionTrace` (shapes in its docstring).
    """
    V, D, Wd, H = check_caption_params(params, cell)
    features = _check_features(features, D)
    N = features.shape[0]
    captions = _check_captions(captions, V, N)
    null = _check_index("null", null, V)
    W_embed, Wx, Wh, b = params["W_embed"], params["Wx"], params["Wh"], params["b"]
    W_vocab = params["W_vocab"]
    GH = Wh.shape[1]
    spec = get_cell(cell)
    lstm = spec.has_cell_state

    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != null
    T = captions_in.shape[1]

    # ---- forward: everything but the recurrence is one matmul over all N*T rows.
    h0 = features @ params["W_proj"] + params["b_proj"]
    x = W_embed[captions_in]                                  # (N, T, W)
    ax = x @ Wx + b                                           # (N, T, G*H)
    caches = []
    h, c = h0, np.zeros_like(h0) if lstm else None
    for t in range(T):
        cache = spec.step_forward(ax[:, t], h, Wh, c)
        caches.append(cache)
        h, c = cache.h, cache.c
    hs = np.stack([cc.h for cc in caches], axis=1)            # (N, T, H)
    h_prev = np.stack([cc.h_prev for cc in caches], axis=1)   # (N, T, H)
    scores = hs @ W_vocab + params["b_vocab"]                 # (N, T, V)
    p, losses, dscores = masked_softmax_loss(scores, captions_out, mask)

    # ---- backward
    dh_from_output = dscores @ W_vocab.T                      # (N, T, H)
    dh_total, dhnext = np.empty((N, T, H)), np.empty((N, T, H))
    dax, dah = np.empty((N, T, GH)), np.empty((N, T, GH))
    dc = np.empty((N, T, H)) if lstm else None
    dcnext = np.empty((N, T, H)) if lstm else None
    carry_h, carry_c = np.zeros((N, H)), None
    for t in reversed(range(T)):
        dh_total[:, t] = dh_from_output[:, t] + carry_h
        g = spec.step_backward(dh_total[:, t], caches[t], Wh, carry_c)
        dax[:, t], dah[:, t], dhnext[:, t] = g.dax, g.dah, g.dh_prev
        carry_h = g.dh_prev
        if lstm:
            dc[:, t], dcnext[:, t] = g.dc, g.dc_prev
            carry_c = g.dc_prev
    dh0 = carry_h
    dx = dax @ Wx.T                                           # (N, T, W)
    dW_embed = np.zeros_like(W_embed, dtype=np.float64)
    np.add.at(dW_embed, captions_in, dx)                      # repeated words accumulate
    grads = {
        "W_embed": dW_embed,
        "W_proj": features.T @ dh0,
        "b_proj": dh0.sum(axis=0),
        "Wx": x.reshape(N * T, Wd).T @ dax.reshape(N * T, GH),
        "Wh": h_prev.reshape(N * T, H).T @ dah.reshape(N * T, GH),
        "b": dax.sum(axis=(0, 1)),
        "W_vocab": hs.reshape(N * T, H).T @ dscores.reshape(N * T, V),
        "b_vocab": dscores.sum(axis=(0, 1)),
    }
    gates = {name: np.stack([cc.gates[name] for cc in caches], axis=1) for name in spec.gate_names}
    return CaptionTrace(
        cell=cell, null=null, captions_in=captions_in, captions_out=captions_out, mask=mask,
        h0=h0, x=x, preact=np.stack([cc.preact for cc in caches], axis=1), gates=gates, h=hs,
        c=np.stack([cc.c for cc in caches], axis=1) if lstm else None,
        scores=scores, p=p, losses=losses, loss=float(losses.sum()), dscores=dscores,
        dh_from_output=dh_from_output, dh=dh_total, dhnext=dhnext, dc=dc, dcnext=dcnext,
        dax=dax, dah=dah, dx=dx, dh0=dh0, grads=grads,
    )


def caption_loss(params: Dict[str, np.ndarray], features, captions, cell: str = "rnn",
                 null: int = 0):
    """CaptioningRNN.loss: ``(loss, grads)`` with grads parallel to params.
    Arguments as for :func:`caption_forward_backward`."""
    trace = caption_forward_backward(params, features, captions, cell=cell, null=null)
    return trace.loss, trace.grads


def caption_sample(params: Dict[str, np.ndarray], features, start: int, null: int,
                   max_length: int = 30, cell: str = "rnn", end: Optional[int] = None) -> np.ndarray:
    """Greedy captions, as CaptioningRNN.sample: feed ``start``, then at every step feed the
    highest-scoring word of the step before (initial LSTM cell state zero).

    features (N, D). Returns (N, max_length) int64 word indices; column 0 is the first
    generated word, not ``start``.  Like cs231n, generation does not stop at ``<END>``;
    pass ``end`` to overwrite every word after a caption's first ``end`` with ``null``.
    """
    V, D, _, H = check_caption_params(params, cell)
    features = _check_features(features, D)
    start = _check_index("start", start, V)
    null = _check_index("null", null, V)
    if end is not None:
        end = _check_index("end", end, V)
    max_length = _check_size("max_length", max_length, 1, 10_000)
    N = features.shape[0]
    Wh = params["Wh"]
    out = np.full((N, max_length), null, dtype=np.int64)
    h = features @ params["W_proj"] + params["b_proj"]
    spec = get_cell(cell)
    c = np.zeros_like(h) if spec.has_cell_state else None
    words = np.full(N, start, dtype=np.intp)
    for t in range(max_length):
        ax = params["W_embed"][words] @ params["Wx"] + params["b"]
        cache = spec.step_forward(ax, h, Wh, c)
        h, c = cache.h, cache.c
        scores = h @ params["W_vocab"] + params["b_vocab"]
        words = np.argmax(scores, axis=1)
        out[:, t] = words
    if end is not None:
        after_end = np.cumsum(out == end, axis=1) - (out == end) > 0
        out[after_end] = null
    return out


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

class CaptionTrainer:
    """Minibatch Adam training of a captioning model on a :class:`CaptionDataset`.

    Defaults follow the cs231n captioning notebook scaled down: batch_size 25, Adam
    lr 5e-3 (beta1 0.9, beta2 0.999, eps 1e-8), no clipping, minibatches drawn at random.
    ``last_trace`` holds the :class:`CaptionTrace` of the latest step.
    """

    def __init__(self, dataset: CaptionDataset, cell: str = "rnn", wordvec_dim: int = 16,
                 hidden_dim: int = 32, batch_size: int = 25, lr: float = 5e-3, seed: int = 0):
        check_caption_cell(cell)
        self.dataset = dataset
        self.cell = cell
        self.batch_size = _check_size("batch_size", batch_size, 1, 100_000)
        self.params = init_caption_params(cell, dataset.vocab_size, dataset.input_dim,
                                          wordvec_dim, hidden_dim, seed=seed)
        self.optimizer = Adam(lr=lr, beta1=0.9, beta2=0.999, eps=1e-8)
        self.rng = np.random.default_rng(seed)
        self.iteration = 0
        self.loss_history: List[float] = []
        self.last_trace: Optional[CaptionTrace] = None
        self.last_batch: Optional[np.ndarray] = None

    def step(self) -> float:
        """One Adam update on a random minibatch; returns its loss (before the update)."""
        n = self.dataset.num_examples
        batch = self.rng.choice(n, size=self.batch_size, replace=self.batch_size > n)
        trace = caption_forward_backward(self.params, self.dataset.features[batch],
                                         self.dataset.captions[batch], cell=self.cell,
                                         null=self.dataset.null)
        self.optimizer.step(self.params, trace.grads)
        self.iteration += 1
        self.last_trace, self.last_batch = trace, batch
        self.loss_history.append(trace.loss)
        return trace.loss

    def evaluate(self) -> float:
        """Loss over the whole dataset with the current parameters."""
        trace = caption_forward_backward(self.params, self.dataset.features, self.dataset.captions,
                                         cell=self.cell, null=self.dataset.null)
        return trace.loss

    def sample(self, features=None, max_length: Optional[int] = None) -> np.ndarray:
        """Greedy captions (N, max_length) for ``features`` (default: the whole dataset);
        max_length defaults to the dataset's T; words after <END> are <NULL>."""
        feats = self.dataset.features if features is None else features
        return caption_sample(self.params, feats, self.dataset.start, self.dataset.null,
                              max_length=self.dataset.T if max_length is None else max_length,
                              cell=self.cell, end=self.dataset.end)
