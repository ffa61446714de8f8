// relukit's native CPU kernels for PyTorch: one fused pass per forward and per backward, with
// autograd in C++ (torch::autograd::Function), registered as the ops torch.ops.relukit.*.
//
// Why they exist (1e6 float32, 2 threads, measured against torch.nn in the same run):
// - NaN rule. ATen's backward kernels send a NaN input down a finite branch (relu'(NaN) = 1), so
//   the ATen path needs one extra read-only reduction per call to find NaNs (21 us, against 38 us
//   for copy_). Here the rule is one more select inside the backward's single pass.
// - Overhead. A Python autograd.Function costs ~15% of ReLU's forward+backward; a C++ one costs
//   what ATen's own autograd nodes cost.
// - Exact GELU. ATen's float32 GELU is 0.5*x*(1 + erf(x/sqrt 2)), which loses relative accuracy
//   below x = -1 (1.9e3 ulp on [-3, -1], 0 instead of ~1e-8 below -5.7); its tanh form cancels
//   in 1 + tanh the same way. Here float32, float16 and bfloat16 GELU and GELU', both forms, are
//   computed in float64 (gelu_math.h) and rounded once: within 0.50 ulp of mpmath in float32
//   (benchmarks/results/ulp.md), 1 ulp next to gelu''s zero (tests/test_torch_native.py). The exact form costs about 2x ATen's time (float64 against ATen's float32
//   approximation); the tanh form about 0.7x.
//
// Every kernel obeys relukit's contract: the kink rule (f' takes the x <= 0 branch), NaN in gives
// NaN out in values and gradients, gelu(-inf) = 0, gelu(+inf) = +inf. Inputs of any layout are
// accepted (made contiguous); the Python layer only sends CPU tensors of floating dtypes here.
//
// Compile-aware, and self-contained (nothing is registered from Python): every op has a Meta
// kernel (shapes, dtypes and strides only; SymInt-safe, so FakeTensor, torch.compile and
// torch.export with dynamic shapes trace them), and the autograd Functions reach every kernel
// through the dispatcher, never by a direct call, so tracers (AOTAutograd) record the ops
// and each mode or transform on the way down (Meta, Python, functorch) sees them.
//
// Double backward: each "<name>_backward" op has an Autograd kernel. When a graph must be built
// (grad mode on and an input requiring grad: create_graph=True), it calls "<name>_backward_graph",
// a CompositeImplicitAutograd op written with ATen's differentiable backward ops plus the NaN rule
// (the formulas of relukit/torch/_autograd.py's *_grad, which the ATen path runs); otherwise it
// runs the fused kernel.

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include "gelu_math.h"

namespace relukit {
namespace {

using at::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kGrain = 32768;  // elements per parallel task: at::internal::GRAIN_SIZE

// The element loops: out-of-line functions on restrict pointers (outputs are fresh
// allocations). Inlined into the OpenMP region GCC left the float32 GELU loop scalar (measured
// 9.1 ms against 0.9 ms per 1e6 on one thread); this way every float/double/bfloat16 loop
// vectorises. (float16 stays scalar: c10::Half converts one element at a time.)
template <typename scalar_t, typename F>
[[gnu::noinline]] void unary_loop(const scalar_t* __restrict in, scalar_t* __restrict out,
                                  int64_t n, F f) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<scalar_t>(f(static_cast<acc_t>(in[i])));
}

template <typename scalar_t, typename F>
[[gnu::noinline]] void binary_loop(const scalar_t* __restrict a, const scalar_t* __restrict b,
                                   scalar_t* __restrict out, int64_t n, F f) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<scalar_t>(f(static_cast<acc_t>(a[i]), static_cast<acc_t>(b[i])));
  }
}

void check_dtype(const Tensor& x, const char* name) {
  const auto t = x.scalar_type();
  TORCH_CHECK(t == at::kDouble || t == at::kFloat || t == at::kHalf || t == at::kBFloat16, name,
              ": expected a float64, float32, float16 or bfloat16 tensor, got ", t);
}

// out[i] = f(x[i]) in x's opmath type (float for float16/bfloat16).
template <typename F>
Tensor map_unary(const Tensor& input, const char* name, F f) {
  check_dtype(input, name);
  const Tensor x = input.contiguous();
  Tensor out = at::empty(x.sizes(), x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "relukit", [&] {
    const scalar_t* in = x.const_data_ptr<scalar_t>();
    scalar_t* o = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
      unary_loop(in + begin, o + begin, end - begin, f);
    });
  });
  return out;
}

// out[i] = f(grad[i], saved[i]): the backward passes, grad_output times f'.
template <typename F>
Tensor map_binary(const Tensor& grad_output, const Tensor& saved, const char* name, F f) {
  check_dtype(saved, name);
  const Tensor s = saved.contiguous();
  const Tensor g = grad_output.to(s.scalar_type()).contiguous();
  TORCH_CHECK(g.sizes() == s.sizes(), name, ": grad_output has shape ", g.sizes(),
              " but the saved tensor has shape ", s.sizes());
  Tensor out = at::empty(s.sizes(), s.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.scalar_type(), "relukit", [&] {
    const scalar_t* gp = g.const_data_ptr<scalar_t>();
    const scalar_t* sp = s.const_data_ptr<scalar_t>();
    scalar_t* o = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, s.numel(), kGrain, [&](int64_t begin, int64_t end) {
      binary_loop(gp + begin, sp + begin, o + begin, end - begin, f);
    });
  });
  return out;
}

// --- ReLU and Leaky ReLU -----------------------------------------------------------------------
// The saved tensor is the output for ReLU and for a positive slope (same sign as the input), the
// input otherwise; either way it is > 0 exactly where x > 0 and NaN exactly where x is. Both
// loads happen unconditionally so that the loop vectorises (a conditional load does not).

Tensor relu_cpu(const Tensor& x) {
  // v < 0 ? 0 : v keeps NaN and the sign of zero (relu(-0) = -0, as ATen's clamp_min).
  return map_unary(x, "relu", [](auto v) { return v < 0 ? decltype(v)(0) : v; });
}

Tensor relu_backward_cpu(const Tensor& grad, const Tensor& saved) {
  return map_binary(grad, saved, "relu_backward", [](auto g, auto s) {
    return s > 0 ? g : (s != s ? s : decltype(g)(0));
  });
}

Tensor leaky_relu_cpu(const Tensor& x, double slope) {
  return map_unary(x, "leaky_relu", [slope](auto v) {
    return v > 0 ? v : v * static_cast<decltype(v)>(slope);
  });
}

Tensor leaky_relu_backward_cpu(const Tensor& grad, const Tensor& saved, double slope) {
  return map_binary(grad, saved, "leaky_relu_backward", [slope](auto g, auto s) {
    return s > 0 ? g : (s != s ? s : g * static_cast<decltype(g)>(slope));
  });
}

// --- GELU, exact and tanh forms (the math is in gelu_math.h) -------------------------------

Tensor gelu_cpu(const Tensor& x, bool tanh) {
  if (tanh) {
    return map_unary(x, "gelu", [](auto v) {
      return static_cast<decltype(v)>(gelu_tanh(static_cast<double>(v)));
    });
  }
  return map_unary(x, "gelu", [](auto v) {
    return static_cast<decltype(v)>(gelu_exact(static_cast<double>(v)));
  });
}

Tensor gelu_backward_cpu(const Tensor& grad, const Tensor& x, bool tanh) {
  if (tanh) {
    return map_binary(grad, x, "gelu_backward", [](auto g, auto v) {
      return g * static_cast<decltype(g)>(gelu_tanh_derivative(static_cast<double>(v)));
    });
  }
  return map_binary(grad, x, "gelu_backward", [](auto g, auto v) {
    return g * static_cast<decltype(g)>(gelu_exact_derivative(static_cast<double>(v)));
  });
}

// --- Meta kernels: the output's metadata only ------------------------------------------------
// The same checks and the same output shape, dtype and strides as the CPU kernels, written with
// sym_sizes() so that a symbolic shape (torch.compile(dynamic=True), torch.export) is kept.

Tensor unary_meta(const Tensor& x, const char* name) {
  check_dtype(x, name);
  return at::empty_symint(x.sym_sizes(), x.options());
}

Tensor binary_meta(const Tensor& grad, const Tensor& saved, const char* name) {
  check_dtype(saved, name);
  TORCH_CHECK(grad.sym_sizes() == saved.sym_sizes(), name, ": grad_output has shape ",
              grad.sym_sizes(), " but the saved tensor has shape ", saved.sym_sizes());
  return at::empty_symint(saved.sym_sizes(), saved.options());
}

Tensor relu_meta(const Tensor& x) { return unary_meta(x, "relu"); }
Tensor leaky_relu_meta(const Tensor& x, double) { return unary_meta(x, "leaky_relu"); }
Tensor gelu_meta(const Tensor& x, bool) { return unary_meta(x, "gelu"); }
Tensor relu_backward_meta(const Tensor& g, const Tensor& s) {
  return binary_meta(g, s, "relu_backward");
}
Tensor leaky_relu_backward_meta(const Tensor& g, const Tensor& s, double) {
  return binary_meta(g, s, "leaky_relu_backward");
}
Tensor gelu_backward_meta(const Tensor& g, const Tensor& x, bool) {
  return binary_meta(g, x, "gelu_backward");
}

// --- the differentiable backward passes (CompositeImplicitAutograd) ----------------------------
// For create_graph=True: ATen's backward ops, whose own derivatives are registered, plus the NaN
// rule (ATen's select-style kernels send NaN down a finite branch). The same formulas as
// relukit/torch/_autograd.py's relu_grad, leaky_grad and gelu_grad (fix=True).

Tensor propagate_nan(const Tensor& grad, const Tensor& saved) {
  return at::where(at::isnan(saved), saved, grad);
}

Tensor relu_backward_graph(const Tensor& grad, const Tensor& result, double) {
  // relu'(x) = 1 for x > 0, else 0; the output is > 0 exactly where the input is.
  return propagate_nan(at::threshold_backward(grad, result, 0), result);
}

Tensor leaky_relu_backward_graph(const Tensor& grad, const Tensor& saved, double slope) {
  // f'(x) = 1 for x > 0, else slope; saved is the output for slope > 0, else the input.
  return propagate_nan(at::leaky_relu_backward(grad, saved, slope, slope > 0), saved);
}

Tensor gelu_backward_graph(const Tensor& grad, const Tensor& x, double tanh) {
  if (tanh != 0) {
    // ATen's tanh-form derivative is NaN where x^3 overflows; beyond |x| = 30 f' is 1 or 0.
    return at::gelu_backward(grad, at::clamp(x, -30.0, 30.0), "tanh");
  }
  const Tensor gi = at::gelu_backward(grad, x, "none");  // ATen: gelu'(+-inf) = NaN
  return at::where(at::isinf(x), at::where(x > 0, grad, at::zeros_like(grad)), gi);
}

// --- the ops, reached through the dispatcher ---------------------------------------------------

template <typename Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

using UnaryFn = Tensor(const Tensor&);
using ParamFn = Tensor(const Tensor&, double);
using FlagFn = Tensor(const Tensor&, bool);
using BinaryFn = Tensor(const Tensor&, const Tensor&);
using BinaryParamFn = Tensor(const Tensor&, const Tensor&, double);
using BinaryFlagFn = Tensor(const Tensor&, const Tensor&, bool);

// Handles are looked up once (thread-safe statics), after the library has registered the ops.
const auto& relu_op() {
  static const auto op = find_op<UnaryFn>("relukit::relu");
  return op;
}
const auto& leaky_relu_op() {
  static const auto op = find_op<ParamFn>("relukit::leaky_relu");
  return op;
}
const auto& gelu_op() {
  static const auto op = find_op<FlagFn>("relukit::gelu");
  return op;
}
const auto& relu_backward_op() {
  static const auto op = find_op<BinaryFn>("relukit::relu_backward");
  return op;
}
const auto& leaky_relu_backward_op() {
  static const auto op = find_op<BinaryParamFn>("relukit::leaky_relu_backward");
  return op;
}
const auto& gelu_backward_op() {
  static const auto op = find_op<BinaryFlagFn>("relukit::gelu_backward");
  return op;
}
const auto& relu_backward_graph_op() {
  static const auto op = find_op<BinaryParamFn>("relukit::relu_backward_graph");
  return op;
}
const auto& leaky_relu_backward_graph_op() {
  static const auto op = find_op<BinaryParamFn>("relukit::leaky_relu_backward_graph");
  return op;
}
const auto& gelu_backward_graph_op() {
  static const auto op = find_op<BinaryParamFn>("relukit::gelu_backward_graph");
  return op;
}

// --- autograd ----------------------------------------------------------------------------------
// The forward ops: torch::autograd::Functions whose forward redispatches below autograd and
// whose backward calls the "<name>_backward" op. Those have an Autograd kernel of their own:
// when a graph is wanted it runs the differentiable "<name>_backward_graph", else the kernel.

bool wants_graph(const Tensor& a, const Tensor& b) {
  return at::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad());
}

Tensor relu_backward_autograd(const Tensor& grad, const Tensor& result) {
  if (wants_graph(grad, result)) return relu_backward_graph_op().call(grad, result, 0.0);
  at::AutoDispatchBelowADInplaceOrView guard;
  return relu_backward_op().call(grad, result);
}

Tensor leaky_relu_backward_autograd(const Tensor& grad, const Tensor& saved, double slope) {
  if (wants_graph(grad, saved)) return leaky_relu_backward_graph_op().call(grad, saved, slope);
  at::AutoDispatchBelowADInplaceOrView guard;
  return leaky_relu_backward_op().call(grad, saved, slope);
}

Tensor gelu_backward_autograd(const Tensor& grad, const Tensor& x, bool tanh) {
  if (wants_graph(grad, x)) return gelu_backward_graph_op().call(grad, x, tanh ? 1.0 : 0.0);
  at::AutoDispatchBelowADInplaceOrView guard;
  return gelu_backward_op().call(grad, x, tanh);
}

struct ReluFunction : public torch::autograd::Function<ReluFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x) {
    Tensor out;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      out = relu_op().call(x);
    }
    ctx->save_for_backward({out});  // the output, as torch.nn.ReLU
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Tensor saved = ctx->get_saved_variables()[0];
    return {relu_backward_op().call(grads[0], saved)};
  }
};

struct LeakyReluFunction : public torch::autograd::Function<LeakyReluFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, double slope) {
    Tensor out;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      out = leaky_relu_op().call(x, slope);
    }
    // A positive slope keeps the input's sign: save the output (torch.nn saves the input).
    ctx->save_for_backward({slope > 0 ? out : x});
    ctx->saved_data["slope"] = slope;
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Tensor saved = ctx->get_saved_variables()[0];
    const double slope = ctx->saved_data["slope"].toDouble();
    return {leaky_relu_backward_op().call(grads[0], saved, slope), Tensor()};
  }
};

struct GeluFunction : public torch::autograd::Function<GeluFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, bool tanh) {
    ctx->save_for_backward({x});  // the input, as torch.nn.GELU
    ctx->saved_data["tanh"] = tanh;
    at::AutoDispatchBelowADInplaceOrView guard;
    return gelu_op().call(x, tanh);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Tensor x = ctx->get_saved_variables()[0];
    const bool tanh = ctx->saved_data["tanh"].toBool();
    return {gelu_backward_op().call(grads[0], x, tanh), Tensor()};
  }
};

Tensor relu_autograd(const Tensor& x) { return ReluFunction::apply(x); }
Tensor leaky_relu_autograd(const Tensor& x, double slope) {
  return LeakyReluFunction::apply(x, slope);
}
Tensor gelu_autograd(const Tensor& x, bool tanh) { return GeluFunction::apply(x, tanh); }

}  // namespace
}  // namespace relukit

TORCH_LIBRARY(relukit, m) {
  m.def("relu(Tensor x) -> Tensor");
  m.def("relu_backward(Tensor grad, Tensor result) -> Tensor");
  m.def("leaky_relu(Tensor x, float negative_slope) -> Tensor");
  m.def("leaky_relu_backward(Tensor grad, Tensor saved, float negative_slope) -> Tensor");
  m.def("gelu(Tensor x, bool tanh) -> Tensor");
  m.def("gelu_backward(Tensor grad, Tensor x, bool tanh) -> Tensor");
  // The differentiable backward passes for double backward, written with ATen ops.
  m.def("relu_backward_graph(Tensor grad, Tensor saved, float param) -> Tensor",
        TORCH_FN(relukit::relu_backward_graph));
  m.def("leaky_relu_backward_graph(Tensor grad, Tensor saved, float param) -> Tensor",
        TORCH_FN(relukit::leaky_relu_backward_graph));
  m.def("gelu_backward_graph(Tensor grad, Tensor saved, float tanh) -> Tensor",
        TORCH_FN(relukit::gelu_backward_graph));
}

TORCH_LIBRARY_IMPL(relukit, CPU, m) {
  m.impl("relu", relukit::relu_cpu);
  m.impl("relu_backward", relukit::relu_backward_cpu);
  m.impl("leaky_relu", relukit::leaky_relu_cpu);
  m.impl("leaky_relu_backward", relukit::leaky_relu_backward_cpu);
  m.impl("gelu", relukit::gelu_cpu);
  m.impl("gelu_backward", relukit::gelu_backward_cpu);
}

TORCH_LIBRARY_IMPL(relukit, Meta, m) {
  m.impl("relu", relukit::relu_meta);
  m.impl("relu_backward", relukit::relu_backward_meta);
  m.impl("leaky_relu", relukit::leaky_relu_meta);
  m.impl("leaky_relu_backward", relukit::leaky_relu_backward_meta);
  m.impl("gelu", relukit::gelu_meta);
  m.impl("gelu_backward", relukit::gelu_backward_meta);
}

TORCH_LIBRARY_IMPL(relukit, Autograd, m) {
  m.impl("relu", relukit::relu_autograd);
  m.impl("leaky_relu", relukit::leaky_relu_autograd);
  m.impl("gelu", relukit::gelu_autograd);
  m.impl("relu_backward", relukit::relu_backward_autograd);
  m.impl("leaky_relu_backward", relukit::leaky_relu_backward_autograd);
  m.impl("gelu_backward", relukit::gelu_backward_autograd);
}
