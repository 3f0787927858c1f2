"""A deliberately naive custom activation, to show what ``polyact check`` catches.

``naive_softplus(x) = log(1 + exp(x))`` is softplus written the textbook way. In
float32, ``exp(x)`` overflows to inf once x > ln(float32 max) = 88.72, so the
value becomes inf (the true value is about x) and the gradient
``exp(x) / (1 + exp(x))`` becomes inf/inf = NaN. polyact's own softplus uses the
stable form ``max(x, 0) + log1p(exp(-|x|))``.

    polyact check --module examples/naive_softplus.py --backend numpy --backend torch --dtype float32

reports the failing float32 inputs from x = 88.72 on and exits with status 1.
"""

import polyact


@polyact.register_activation("naive_softplus", accuracy="transcendental", override=True)
def naive_softplus(x, ops):
    """Softplus written naively as log(1 + exp(x)): overflows for large x."""
    return ops.log(1 + ops.exp(x))
