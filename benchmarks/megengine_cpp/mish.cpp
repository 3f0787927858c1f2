// Prototype (not part of the package): mish forward and backward as MegEngine
// custom ops on x86, one loop each, to measure what a C++ element-wise kernel
// generated from a spec would give on MegEngine's CPU build. Same formula as
// polyact's fast mish: x n / (n + 2), n = e (e + 2), e = exp(min(x, 20)).
// Special values (+-inf, NaN) are left to polyact's guard, as for any kernel.
#include <cmath>

#include "megbrain/custom/custom.h"

CUSTOM_OP_REG_BEGIN(PolyactMishFwd)

static void compute(const std::vector<Tensor>& inputs, const Param&, std::vector<Tensor>& outputs) {
    const float* x = inputs[0].data<float>();
    float* y = outputs[0].data<float>();
    const size_t count = inputs[0].size();
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; ++i) {
        const float v = x[i];
        const float e = std::exp(v > 20.f ? 20.f : v);
        const float n = e * (e + 2.f);
        y[i] = v * (n / (n + 2.f));
    }
}

CUSTOM_OP_REG(PolyactMishFwd).add_inputs(1).add_outputs(1).set_compute("x86", compute);

CUSTOM_OP_REG_END(PolyactMishFwd)

CUSTOM_OP_REG_BEGIN(PolyactMishBwd)

// d/dx mish = t + x s(x) (1 - t^2), t = n / (n + 2), 1 - t = 2 / (n + 2), s(x) = e / (1 + e)
static void compute(const std::vector<Tensor>& inputs, const Param&, std::vector<Tensor>& outputs) {
    const float* x = inputs[0].data<float>();
    const float* g = inputs[1].data<float>();
    float* out = outputs[0].data<float>();
    const size_t count = inputs[0].size();
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; ++i) {
        const float v = x[i];
        const float e = std::exp(v > 20.f ? 20.f : v);
        const float n = e * (e + 2.f);
        const float d = n + 2.f;
        const float t = n / d;
        const float slope = v > 20.f ? 1.f : t + v * (e / (1.f + e)) * (2.f / d) * (1.f + t);
        out[i] = g[i] * slope;
    }
}

CUSTOM_OP_REG(PolyactMishBwd).add_inputs(2).add_outputs(1).set_compute("x86", compute);

CUSTOM_OP_REG_END(PolyactMishBwd)
