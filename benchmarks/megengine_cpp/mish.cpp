// Prototype (not part of the package): mish forward and backward as MegEngine
// custom ops on x86, one loop each, to measure what a C++ element-wise kernel
// generated from a spec would give on MegEngine's CPU build. Same formula as
// polyact's fast mish: x n / (n + 2), n = e (e + 2), e = exp(min(x, 20)).
// Special values (+-inf, NaN) are left to polyact's guard, as for any kernel.
#include <cmath>

#include "megbrain/custom/custom.h"

// e = exp(min(x, 20)) and n = e (e + 2): tanh(softplus(x)) = n / (n + 2)
struct MishParts {
    float e, n;
    explicit MishParts(float v) : e(std::exp(v > 20.f ? 20.f : v)), n(e * (e + 2.f)) {}
};

// out[i] = f(i) for every element, on OpenMP's threads
template <typename F>
static void each(size_t count, F f) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; ++i) f(i);
}

CUSTOM_OP_REG_BEGIN(PolyactMishFwd)

static void compute(const std::vector<Tensor>& in, const Param&, std::vector<Tensor>& out) {
    const float* x = in[0].data<float>();
    float* y = out[0].data<float>();
    each(in[0].size(), [&](size_t i) {
        const MishParts p(x[i]);
        y[i] = x[i] * (p.n / (p.n + 2.f));
    });
}

CUSTOM_OP_REG(PolyactMishFwd).add_inputs(1).add_outputs(1).set_compute("x86", compute);

CUSTOM_OP_REG_END(PolyactMishFwd)

CUSTOM_OP_REG_BEGIN(PolyactMishBwd)

// d/dx mish = t + x s(x) (1 - t^2), t = n / (n + 2), 1 - t = 2 / (n + 2), s(x) = e / (1 + e)
static void compute(const std::vector<Tensor>& in, const Param&, std::vector<Tensor>& out) {
    const float* x = in[0].data<float>();
    const float* g = in[1].data<float>();
    float* dx = out[0].data<float>();
    each(in[0].size(), [&](size_t i) {
        const float v = x[i];
        const MishParts p(v);
        const float d = p.n + 2.f, t = p.n / d;
        const float slope = v > 20.f ? 1.f : t + v * (p.e / (1.f + p.e)) * (2.f / d) * (1.f + t);
        dx[i] = g[i] * slope;
    });
}

CUSTOM_OP_REG(PolyactMishBwd).add_inputs(2).add_outputs(1).set_compute("x86", compute);

CUSTOM_OP_REG_END(PolyactMishBwd)
