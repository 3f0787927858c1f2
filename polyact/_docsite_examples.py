"""Copy-paste examples per backend for the generated activation pages.

Every snippet is a complete program (imports included) built from the spec
alone: the input shape follows the activation's kind (element-wise values, a
per-channel layer output, halves for gated units, images for structural
activations) so that it runs as shown.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from .spec import ActivationSpec

__all__ = ["BACKEND_TITLES", "examples"]

BACKEND_TITLES = {"numpy": "NumPy", "torch": "PyTorch", "jax": "JAX", "megengine": "MegEngine"}

#: width of the layer outputs the examples feed to the activation
WIDTH = 8


def _value(v: Any) -> str:
    return repr(float(v)) if isinstance(v, float) else repr(v)


def _param_args(spec: ActivationSpec) -> List[str]:
    """Keyword arguments shown in the examples: required parameters get a value
    fitting the example's input, short defaults are spelled out so that the
    reader sees the names (long ones are left to their defaults)."""
    out = []
    for k, p in spec.params.items():
        if p.required:
            if k == spec.channels_param or "integer" in str(p.domain):
                out.append(f"{k}={WIDTH}")
            else:
                example = next((e[k] for e in spec.examples if k in e), 1.0)
                out.append(f"{k}={_value(example)}")
        elif k != "axis" and len(_value(p.default)) <= 8:
            out.append(f"{k}={_value(p.default)}")
    if spec.per_channel:
        out.append(f"num_channels={WIDTH}")
    return out


def _call(spec: ActivationSpec, what: str, backend: str, extra: Tuple[str, ...] = ()) -> str:
    args = [f'"{spec.name}"', f'backend="{backend}"', *_param_args(spec), *extra]
    return f"pa.{what}({', '.join(args)})"


def _image(spec: ActivationSpec) -> bool:
    return spec.kind == "structural" and 4 in spec.input_ndims


def _in_width(spec: ActivationSpec) -> int:
    return 2 * WIDTH if spec.kind == "gated" else WIDTH


def _numpy(spec: ActivationSpec) -> str:
    lines = ["import numpy as np", "import polyact as pa", ""]
    if spec.kind == "structural":
        lines.append(f"act = {_call(spec, 'get_activation', 'numpy')}")
        if _image(spec):
            lines.append(f"x = np.random.default_rng(0).standard_normal((2, {WIDTH}, 16, 16))  # NCHW")
        else:
            lines.append(f"x = np.random.default_rng(0).standard_normal((4, {WIDTH}))")
        lines.append("y = act(x)")
    elif spec.elementwise and not spec.per_channel:
        lines.append(f"f = {_call(spec, 'get_function', 'numpy')}")
        lines.append("y = f(np.linspace(-3.0, 3.0, 7))")
    else:
        lines.append(f"f = {_call(spec, 'get_function', 'numpy')}")
        lines.append(f"x = np.random.default_rng(0).standard_normal((4, {_in_width(spec)}))")
        lines.append("y = f(x)" + ("  # along the last axis" if spec.kind in ("vector", "gated") else ""))
    lines.append("print(y)")
    return "\n".join(lines)


def _torch(spec: ActivationSpec) -> str:
    lines = ["import torch", "import polyact as pa", ""]
    lines.append(f"act = {_call(spec, 'get_activation', 'torch')}  # a torch.nn.Module")
    if _image(spec):
        lines.append(f"model = torch.nn.Sequential(torch.nn.Conv2d(3, {WIDTH}, 3, padding=1), act)")
        lines.append("x = torch.randn(2, 3, 16, 16)")
    else:
        lines.append(f"model = torch.nn.Sequential(torch.nn.Linear(4, {_in_width(spec)}), act)")
        lines.append("x = torch.randn(32, 4)")
    lines.append("y = model(x)")
    lines.append("y.sum().backward()")
    if spec.trainable:
        lines.append(f"print(act.{spec.trainable[0]}.grad)  # trainable: an nn.Parameter")
    if spec.noise is not None:
        lines.append("model.eval()  # no noise in evaluation mode")
        lines.append("y = model(x)")
    required = any(p.required for p in spec.params.values())
    if spec.kind != "structural" and not required:
        lines += ["", "# functional form, backend inferred from the tensor"]
        shape = "torch.linspace(-3, 3, 7)" if spec.elementwise else f"torch.randn(4, {_in_width(spec)})"
        lines.append(f'y = pa.apply("{spec.name}", {shape})')
    return "\n".join(lines)


def _jax(spec: ActivationSpec) -> str:
    lines = ["import jax", "import jax.numpy as jnp", "from flax import nnx", "import polyact as pa", ""]
    if spec.kind != "structural":
        lines.append("# a pure function: works under jit, grad and vmap")
        lines.append(f"f = {_call(spec, 'get_function', 'jax')}")
        if spec.elementwise and not spec.per_channel:
            lines.append("x = jnp.linspace(-3.0, 3.0, 7)")
        else:
            lines.append(f"x = jax.random.normal(jax.random.key(0), (4, {_in_width(spec)}))")
        lines.append("y = jax.jit(f)(x)")
        lines.append("g = jax.grad(lambda x: f(x).sum())(x)")
        lines.append("")
    stateful = bool(spec.trainable) or spec.noise is not None or spec.kind == "structural"
    extra = ("rngs=nnx.Rngs(0)",) if spec.noise is not None else ()
    kind = "an nnx.Module" if stateful else "a pure callable"
    lines += [
        "# inside a flax.nnx model",
        "class Model(nnx.Module):",
        "    def __init__(self, rngs):",
    ]
    if _image(spec):
        lines.append(f"        self.conv = nnx.Conv(3, {WIDTH}, (3, 3), rngs=rngs)")
    else:
        lines.append(f"        self.linear = nnx.Linear(4, {_in_width(spec)}, rngs=rngs)")
    lines += [
        f"        self.act = {_call(spec, 'get_activation', 'jax', extra)}  # {kind}",
        "",
        "    def __call__(self, x):",
        f"        return self.act(self.{'conv' if _image(spec) else 'linear'}(x))",
        "",
        "model = Model(nnx.Rngs(0))",
    ]
    if _image(spec):
        lines.append("y = model(jnp.ones((2, 16, 16, 3)))  # NHWC, as nnx.Conv")
    else:
        lines.append("y = model(jnp.ones((32, 4)))")
    if spec.trainable:
        lines.append(
            f"grads = nnx.grad(lambda m: m(jnp.ones({'(2, 16, 16, 3)' if _image(spec) else '(32, 4)'})).sum())(model)"
        )
    return "\n".join(lines)


def _megengine(spec: ActivationSpec) -> str:
    lines = [
        "import numpy as np",
        "import megengine as mge",
        "import megengine.module as M",
        "from megengine.autodiff import GradManager",
        "import polyact as pa",
        "",
        f"act = {_call(spec, 'get_activation', 'megengine')}  # a megengine.module.Module",
    ]
    if _image(spec):
        lines.append(f"model = M.Sequential(M.Conv2d(3, {WIDTH}, 3, padding=1), act)")
        lines.append('x = mge.tensor(np.random.randn(2, 3, 16, 16).astype("float32"))')
    else:
        lines.append(f"model = M.Sequential(M.Linear(4, {_in_width(spec)}), act)")
        lines.append('x = mge.tensor(np.random.randn(32, 4).astype("float32"))')
    lines += [
        "gm = GradManager().attach(model.parameters())",
        "with gm:",
        "    y = model(x)",
        "    gm.backward(y.sum())",
    ]
    if spec.trainable:
        lines.append(f"print(act.{spec.trainable[0]}.grad)  # trainable: a megengine Parameter")
    if spec.noise is not None:
        lines.append("model.eval()  # no noise in evaluation mode")
        lines.append("y = model(x)")
    if spec.kind != "structural":
        lines += ["", "# a plain function"]
        lines.append(f"f = {_call(spec, 'get_function', 'megengine')}")
        if spec.elementwise and not spec.per_channel:
            lines.append('y = f(mge.tensor(np.linspace(-3, 3, 7).astype("float32")))')
        else:
            lines.append(f'y = f(mge.tensor(np.random.randn(4, {_in_width(spec)}).astype("float32")))')
    return "\n".join(lines)


def examples(spec: ActivationSpec) -> Dict[str, str]:
    """Backend name -> a complete example program for ``spec``."""
    return {
        "numpy": _numpy(spec),
        "torch": _torch(spec),
        "jax": _jax(spec),
        "megengine": _megengine(spec),
    }
