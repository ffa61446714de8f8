// relukit's native CPU kernels for PyTorch: one fused pass per forward and per backward, with
// autograd in C++ (hand-built nodes, as ATen's; torch::autograd::Function for PReLU), registered
// as the ops torch.ops.relukit.*.
//
// Why they exist (1e6 float32, 2 threads, measured against torch.nn in the same run):
// - NaN rule. ATen's backward kernels send a NaN input down a finite branch (relu'(NaN) = 1), so
//   the ATen path needs one extra read-only reduction per call to find NaNs (21 us, against 38 us
//   for copy_). Here the rule is one more select inside the backward's single pass.
// - Overhead. A Python autograd.Function costs ~15% of ReLU's forward+backward, and even
//   torch::autograd::Function's bookkeeping cost ReLU and Leaky ReLU 5-20% over torch.nn; the
//   single-input ops build their autograd node by hand, as ATen's generated code does
//   (UnaryBackward below).
// - Exact GELU. ATen's float32 GELU is 0.5*x*(1 + erf(x/sqrt 2)), which loses relative accuracy
//   below x = -1 (1.9e3 ulp on [-3, -1], 0 instead of ~1e-8 below -5.7); its tanh form cancels
//   in 1 + tanh the same way. Here float32, float16 and bfloat16 GELU and GELU', both forms, are
//   computed in float64 (gelu_math.h) and rounded once: within 0.50 ulp of mpmath in float32
//   (benchmarks/results/ulp.md), 1 ulp next to gelu''s zero (tests/test_torch_native.py). The
//   exact form costs about 2x ATen's time (float64 against ATen's float32 approximation); the
//   tanh form about 0.7x. ATen's float64 GELU is 0 below x = -8.3; here float64's exact form is
//   Phi by erfc with its argument's rounding corrected (the catalog's ndtr), within 4 ulp.
//
// - Exact ELU. ATen's float32 ELU is alpha*expm1(x) in float32, and inductor decomposes it into
//   exp(x) - 1, which cancels next to 0 (elu(-1e-5) = -1.0013580e-05, not -9.99995e-06), so
//   compiled and eager results differed. Here float32/float16/bfloat16 ELU and ELU' are computed
//   in float64 and rounded once, the same kernel in eager and compiled mode.
//
// Every kernel obeys relukit's contract: the kink rule (f' takes the x <= 0 branch), NaN in gives
// NaN out in values and gradients, gelu(-inf) = 0, gelu(+inf) = +inf. The Python layer only
// sends CPU tensors of floating dtypes here.
//
// Memory layout, as ATen's TensorIterator kernels: outputs and gradients come back in the
// inputs' layout (channels_last, channels_last_3d, transposed, any dense permutation; see
// empty_output), with no hidden .contiguous() copy. Inputs laid out alike and densely are walked
// as flat arrays in memory order (the vectorised loops); any other mix, and non-dense inputs,
// through a TensorIterator with strided loops. (channels_last ReLU forward+backward at 1e6:
// 0.23 ms, was 0.71 ms with the copies.)
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
//
// Saving the output (relukit.torch's save="output"): elu and activation take save_output, and
// their backward ops is_result (ATen's elu_backward spelling), for the entries whose output
// determines f' (ELU with alpha >= 0, SELU, CELU, Sigmoid, Tanh; the Python layer checks which):
// the node then saves the output, and the backward computes f' from it in float64, with the
// catalog's formulas (output_derivative), rounded once. Measured: benchmarks/bench_torch_speed.py.
//
// Batched gradients (is_grads_batched=True, jacobian(vectorize=True), gradcheck's batched check):
// the ops have batching rules, so a batch of gradients is one kernel call (see "batching rules").

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/LegacyBatchedTensorImpl.h>
#include <ATen/LegacyVmapTransforms.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <ATen/ExpandUtils.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/saved_variable.h>
#include <torch/csrc/dynamo/compiled_autograd.h>
#include <torch/library.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <optional>
#include <type_traits>
#include <vector>

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
// vectorises. (float16 stays scalar: c10::Half converts one element at a time.) The strided
// twins serve inputs that are not dense (slices, expanded tensors) or not laid out alike.
// The element functions (the lambdas below) are forced inline: with two callers each (the flat
// and the strided loop), GCC left the tanh-form GELU' lambda out of line, and its loop scalar
// (measured 3.5 ms against 0.46 ms per 1e6 float32).
#define RELUKIT_INLINE __attribute__((always_inline))

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

// Strides in bytes, as TensorIterator hands them over.
template <typename scalar_t, typename F>
void strided_unary_loop(const char* in, int64_t in_step, char* out, int64_t out_step, int64_t n,
                        F f) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = 0; i < n; ++i) {
    const acc_t v = static_cast<acc_t>(*reinterpret_cast<const scalar_t*>(in + i * in_step));
    *reinterpret_cast<scalar_t*>(out + i * out_step) = static_cast<scalar_t>(f(v));
  }
}

template <typename scalar_t, typename F>
void strided_binary_loop(const char* a, int64_t a_step, const char* b, int64_t b_step, char* out,
                         int64_t out_step, int64_t n, F f) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = 0; i < n; ++i) {
    const acc_t u = static_cast<acc_t>(*reinterpret_cast<const scalar_t*>(a + i * a_step));
    const acc_t v = static_cast<acc_t>(*reinterpret_cast<const scalar_t*>(b + i * b_step));
    *reinterpret_cast<scalar_t*>(out + i * out_step) = static_cast<scalar_t>(f(u, v));
  }
}

void check_dtype(const Tensor& x, const char* name) {
  const auto t = x.scalar_type();
  TORCH_CHECK(t == at::kDouble || t == at::kFloat || t == at::kHalf || t == at::kBFloat16, name,
              ": expected a float64, float32, float16 or bfloat16 tensor, got ", t);
}

// --- the output's layout: TensorIterator's rule ------------------------------------------------
// An ATen elementwise kernel (TensorIterator) returns its output in its inputs' memory layout:
// contiguous, channels_last, or any dense layout they share, stride for stride; otherwise the
// dimensions ordered by the inputs' strides (the first input that tells two dimensions apart
// decides; stride-0 dimensions don't count) and laid out densely in that order. This is the
// same rule (TensorIteratorBase::fast_set_up, reorder_dimensions, allocate_or_resize_outputs)
// for inputs of one shape, written on SymInts so that the Meta kernels share it: a fake tensor
// and the real one always agree. `inputs` are in ATen's operand order for the op.

Tensor empty_output(std::initializer_list<const Tensor*> inputs) {
  const Tensor& first = **inputs.begin();
  const c10::SymIntArrayRef sizes = first.sym_sizes();
  const auto options = first.options();
  auto all = [&](auto pred) {
    return std::all_of(inputs.begin(), inputs.end(), [&](const Tensor* t) { return pred(*t); });
  };
  if (all([](const Tensor& t) { return t.is_contiguous(); })) {
    return at::empty_symint(sizes, options);
  }
  if (all([](const Tensor& t) { return t.is_contiguous(at::MemoryFormat::ChannelsLast); })) {
    return at::empty_symint(sizes, options, at::MemoryFormat::ChannelsLast);
  }
  if (all([&](const Tensor& t) {
        return t.is_non_overlapping_and_dense() && t.sym_strides() == first.sym_strides();
      })) {
    return at::empty_strided_symint(sizes, first.sym_strides(), options);
  }
  const int64_t ndim = first.dim();
  // perm[0] is the fastest-moving dimension; start from the C-contiguous order.
  c10::SmallVector<int64_t, 6> perm(ndim);
  std::iota(perm.rbegin(), perm.rend(), int64_t{0});
  // > 0: d0 goes after d1; < 0: before; 0: the inputs don't say.
  auto should_swap = [&](int64_t d0, int64_t d1) {
    for (const Tensor* t : inputs) {
      const c10::SymInt& s0 = t->sym_stride(d0);
      const c10::SymInt& s1 = t->sym_stride(d1);
      if (s0 == 0 || s1 == 0) continue;
      if (s0 < s1) return -1;
      if (s0 > s1) return 1;
      if (sizes[d0] > sizes[d1]) return 1;  // equal strides: the smaller size goes first
    }
    return 0;
  };
  for (int64_t i = 1; i < ndim; ++i) {  // insertion sort that tolerates ambiguity
    int64_t d1 = i;
    for (int64_t d0 = i - 1; d0 >= 0; --d0) {
      const int comparison = should_swap(perm[d0], perm[d1]);
      if (comparison > 0) {
        std::swap(perm[d0], perm[d1]);
        d1 = d0;
      } else if (comparison < 0) {
        break;
      }
    }
  }
  bool inverted = true;
  for (int64_t j = 0; j < ndim; ++j) inverted = inverted && perm[j] == ndim - 1 - j;
  if (inverted) return at::empty_symint(sizes, options);
  std::vector<c10::SymInt> strides(ndim);
  c10::SymInt next = 1;
  for (int64_t j = 0; j < ndim; ++j) {
    strides[perm[j]] = next;
    next = next * sizes[perm[j]];
  }
  return at::empty_strided_symint(sizes, strides, options);
}

// Whether t's elements sit in out's order over one dense block: then both are walked as flat
// arrays, as if contiguous (the common case: both contiguous, or both channels_last).
bool same_dense_layout(const Tensor& t, const Tensor& out) {
  return t.is_non_overlapping_and_dense() && t.strides() == out.strides();
}

// out = f(x) in x's opmath type (float for float16/bfloat16), in x's layout.
template <typename F>
Tensor map_unary(const Tensor& x, const char* name, F f) {
  check_dtype(x, name);
  Tensor out = empty_output({&x});
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "relukit", [&] {
    if (same_dense_layout(x, out)) {
      const scalar_t* in = x.const_data_ptr<scalar_t>();
      scalar_t* o = out.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
        unary_loop(in + begin, o + begin, end - begin, f);
      });
      return;
    }
    // Any other layout: TensorIterator walks out in memory order, in blocks of rows.
    auto iter = at::TensorIteratorConfig().add_output(out).add_const_input(x).build();
    iter.for_each(
        [&](char** data, const int64_t* strides, int64_t n, int64_t rows) {
          constexpr int64_t kSize = sizeof(scalar_t);
          for (int64_t r = 0; r < rows; ++r) {
            char* o = data[0] + r * strides[2];
            const char* in = data[1] + r * strides[3];
            if (strides[0] == kSize && strides[1] == kSize) {
              unary_loop(reinterpret_cast<const scalar_t*>(in), reinterpret_cast<scalar_t*>(o),
                         n, f);
            } else {
              strided_unary_loop<scalar_t>(in, strides[1], o, strides[0], n, f);
            }
          }
        },
        kGrain);
  });
  return out;
}

// The backward ops' checks and output, shared by the CPU and Meta kernels: grad_output is cast
// to the saved tensor's dtype; the output takes the layout ATen's own backward kernel gives,
// whose operand order is (saved, grad) for threshold_backward and leaky_relu_backward and
// (grad, saved) for gelu_backward.
struct BinaryArgs {
  Tensor grad;
  Tensor out;
};

BinaryArgs binary_args(const Tensor& grad_output, const Tensor& saved, const char* name,
                       bool grad_first) {
  check_dtype(saved, name);
  Tensor grad = grad_output.to(saved.scalar_type());
  TORCH_CHECK(grad.sym_sizes() == saved.sym_sizes(), name, ": grad_output has shape ",
              grad.sym_sizes(), " but the saved tensor has shape ", saved.sym_sizes());
  Tensor out = grad_first ? empty_output({&grad, &saved}) : empty_output({&saved, &grad});
  return {std::move(grad), std::move(out)};
}

// out = f(grad, saved): the backward passes, grad_output times f'.
template <typename F>
Tensor map_binary(const Tensor& grad_output, const Tensor& saved, const char* name,
                  bool grad_first, F f) {
  auto [g, out] = binary_args(grad_output, saved, name, grad_first);
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, saved.scalar_type(), "relukit", [&] {
    if (same_dense_layout(g, out) && same_dense_layout(saved, out)) {
      const scalar_t* gp = g.const_data_ptr<scalar_t>();
      const scalar_t* sp = saved.const_data_ptr<scalar_t>();
      scalar_t* o = out.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, out.numel(), kGrain, [&](int64_t begin, int64_t end) {
        binary_loop(gp + begin, sp + begin, o + begin, end - begin, f);
      });
      return;
    }
    auto iter = at::TensorIteratorConfig()
                    .add_output(out)
                    .add_const_input(g)
                    .add_const_input(saved)
                    .build();
    iter.for_each(
        [&](char** data, const int64_t* strides, int64_t n, int64_t rows) {
          constexpr int64_t kSize = sizeof(scalar_t);
          for (int64_t r = 0; r < rows; ++r) {
            char* o = data[0] + r * strides[3];
            const char* gp = data[1] + r * strides[4];
            const char* sp = data[2] + r * strides[5];
            if (strides[0] == kSize && strides[1] == kSize && strides[2] == kSize) {
              binary_loop(reinterpret_cast<const scalar_t*>(gp),
                          reinterpret_cast<const scalar_t*>(sp), reinterpret_cast<scalar_t*>(o),
                          n, f);
            } else {
              strided_binary_loop<scalar_t>(gp, strides[1], sp, strides[2], o, strides[0], n, f);
            }
          }
        },
        kGrain);
  });
  return out;
}

// --- ReLU and Leaky ReLU -----------------------------------------------------------------------
// The saved tensor is the output for ReLU and for a positive slope (same sign as the input), the
// input otherwise; either way it is > 0 exactly where x > 0 and NaN exactly where x is. Both
// loads happen unconditionally so that the loop vectorises (a conditional load does not).

Tensor relu_cpu(const Tensor& x) {
  // v < 0 ? 0 : v keeps NaN and the sign of zero (relu(-0) = -0, as ATen's clamp_min).
  return map_unary(x, "relu", [](auto v) RELUKIT_INLINE { return v < 0 ? decltype(v)(0) : v; });
}

Tensor relu_backward_cpu(const Tensor& grad, const Tensor& saved) {
  // g is read in every lane (g * 0, which the NaN lanes add to s: still NaN): written as
  // s > 0 ? g : 0 alone, GCC loads g under the mask (an AVX-512 masked load), and on this
  // machine's AMD EPYC the one-thread relu backward took 1.46x ATen's (an A/B of the two
  // builds, 1e6 float32, one thread: 419 -> 240 us, ATen 287; benchmarks/bench_torch_speed.py's
  // kernel rows run two threads, which hid it). The same for Leaky ReLU.
  return map_binary(grad, saved, "relu_backward", false, [](auto g, auto s) RELUKIT_INLINE {
    const auto r = s > 0 ? g : decltype(g)(0);
    return s != s ? s + g * decltype(g)(0) : r;
  });
}

Tensor leaky_relu_cpu(const Tensor& x, double slope) {
  return map_unary(x, "leaky_relu", [slope](auto v) RELUKIT_INLINE {
    return v > 0 ? v : v * static_cast<decltype(v)>(slope);
  });
}

Tensor leaky_relu_backward_cpu(const Tensor& grad, const Tensor& saved, double slope) {
  const auto f = [slope](auto g, auto s) RELUKIT_INLINE {
    const auto r = g * (s > 0 ? decltype(g)(1) : static_cast<decltype(g)>(slope));
    return s != s ? s : r;  // g is read in every lane: see relu_backward_cpu
  };
  return map_binary(grad, saved, "leaky_relu_backward", false, f);
}

// --- GELU, exact and tanh forms (the math is in gelu_math.h) -------------------------------

Tensor gelu_cpu(const Tensor& x, bool tanh) {
  if (tanh) {
    return map_unary(x, "gelu", [](auto v) RELUKIT_INLINE {
      return static_cast<decltype(v)>(gelu_tanh(static_cast<double>(v)));
    });
  }
  if (x.scalar_type() == at::kDouble) {
    return map_unary(x, "gelu", [](auto v) {
      return static_cast<decltype(v)>(gelu_exact_f64(static_cast<double>(v)));
    });
  }
  return map_unary(x, "gelu", [](auto v) RELUKIT_INLINE {
    return static_cast<decltype(v)>(gelu_exact(static_cast<double>(v)));
  });
}

Tensor gelu_backward_cpu(const Tensor& grad, const Tensor& x, bool tanh) {
  if (tanh) {
    return map_binary(grad, x, "gelu_backward", true, [](auto g, auto v) RELUKIT_INLINE {
      return g * static_cast<decltype(g)>(gelu_tanh_derivative(static_cast<double>(v)));
    });
  }
  if (x.scalar_type() == at::kDouble) {
    return map_binary(grad, x, "gelu_backward", true, [](auto g, auto v) {
      return g * static_cast<decltype(g)>(gelu_exact_f64_derivative(static_cast<double>(v)));
    });
  }
  return map_binary(grad, x, "gelu_backward", true, [](auto g, auto v) RELUKIT_INLINE {
    return g * static_cast<decltype(g)>(gelu_exact_derivative(static_cast<double>(v)));
  });
}

// --- ELU, SELU, CELU ---------------------------------------------------------------------------
// ATen's elu(x, alpha, scale, input_scale) = scale*(x > 0 ? x : alpha*expm1(input_scale*x)):
// ELU is (alpha, 1, 1), SELU (its alpha, lambda, 1), CELU (alpha, 1, 1/alpha). The derivative is
// f'(x) = x > 0 ? scale : scale*alpha*input_scale*exp(input_scale*x) (kink: f'(0) from the
// x <= 0 branch). float32, float16 and bfloat16 are computed in float64 (elu_expm1, elu_exp
// below: within a few float64 ulps; input_scale*x rounds in float64, not in the input's dtype,
// which is why CELU is not ELU of a rounded x/alpha) and rounded once; float64 calls
// std::expm1/std::exp. expm1 keeps the sign of zero, so f(+-0) = f'(0)*(+-0); NaN takes the
// x <= 0 branch and stays NaN. The backward saves the input: from the output,
// alpha*exp(x) = out + alpha cancels. (benchmarks/bench_torch_speed.py: SELU and CELU ran ATen's
// float64 kernels rounded once, 4.6x and 8.7x torch.nn's float32 time.)

// v = k*ln2 + r (gelu_math.h's reduce_ln2) for v in [-110, 0] (float32-and-narrower inputs
// are clamped there: exp(-110) rounds to 0 and expm1(-110) to -1 in float32). expm1(r) = r*q(r),
// q the Taylor series to r^12/13! (truncation below 2e-17 relative), so that expm1 near 0 loses
// nothing.
struct EluReduced {
  double em1;    // expm1(r)
  double scale;  // 2^k
};

[[gnu::always_inline]] inline EluReduced elu_reduce(double v, double floor = -110.0) {
  const double c = v < floor ? floor : v;  // -inf becomes the floor; NaN stays NaN
  const auto [r, scale] = reduce_ln2(c);     // r = c exactly when k = 0
  double q = 1.0 / 6227020800;               // 1/13!
  q = std::fma(q, r, 1.0 / 479001600);
  q = std::fma(q, r, 1.0 / 39916800);
  q = std::fma(q, r, 1.0 / 3628800);
  q = std::fma(q, r, 1.0 / 362880);
  q = std::fma(q, r, 1.0 / 40320);
  q = std::fma(q, r, 1.0 / 5040);
  q = std::fma(q, r, 1.0 / 720);
  q = std::fma(q, r, 1.0 / 120);
  q = std::fma(q, r, 1.0 / 24);
  q = std::fma(q, r, 1.0 / 6);
  q = std::fma(q, r, 0.5);
  q = std::fma(q, r, 1.0);
  return {r * q, scale};
}

// expm1(v) = 2^k*expm1(r) + (2^k - 1), one rounding (2^k*expm1(r) and, for k >= -53, 2^k - 1
// are exact); k = 0 returns expm1(r) itself, which keeps the sign of zero.
[[gnu::always_inline]] inline double elu_expm1(double v) {
  const EluReduced t = elu_reduce(v);
  return t.scale == 1.0 ? t.em1 : std::fma(t.scale, t.em1, t.scale - 1.0);
}

// exp(v) = 2^k*(expm1(r) + 1), one rounding.
[[gnu::always_inline]] inline double elu_exp(double v) {
  const EluReduced t = elu_reduce(v);
  return std::fma(t.scale, t.em1, t.scale);
}

Tensor elu_cpu(const Tensor& x, double alpha, double scale, double input_scale, bool) {
  if (scale == 1.0 && input_scale == 1.0) {  // ELU: the positive branch is x itself
    return map_unary(x, "elu", [alpha](auto v) RELUKIT_INLINE {
      using acc_t = decltype(v);
      if constexpr (std::is_same_v<acc_t, double>) {
        return v > 0 ? v : alpha * std::expm1(v);
      } else {
        const double d = static_cast<double>(v);
        return static_cast<acc_t>(d > 0 ? d : alpha * elu_expm1(d));
      }
    });
  }
  const double negative = scale * alpha;  // one rounding in float64
  return map_unary(x, "elu", [=](auto v) RELUKIT_INLINE {
    using acc_t = decltype(v);
    if constexpr (std::is_same_v<acc_t, double>) {
      return v > 0 ? scale * v : negative * std::expm1(input_scale * v);
    } else {
      const double d = static_cast<double>(v);
      return static_cast<acc_t>(d > 0 ? scale * d : negative * elu_expm1(input_scale * d));
    }
  });
}

// f' from the output y (is_result; alpha >= 0): scale for y > 0, else
// input_scale*(y + scale*alpha), which is e^x's branch solved for y; y + scale*alpha is exact next
// to the limit (Sterbenz), and an output rounded beyond the limit gets its 0, never a wrong sign.
// CELU (scale 1, input_scale 1/alpha) divides by alpha instead: the catalog's formula, bit for
// bit. NaN stays NaN.
[[gnu::always_inline]] inline double elu_slope_from_output(double y, double negative,
                                                          double scale, double alpha,
                                                          double input_scale, bool celu) {
  double t = y + negative;
  t = t > 0.0 ? t : 0.0;
  return y > 0 ? scale : (celu ? t / alpha : t * input_scale);
}

Tensor elu_backward_cpu(const Tensor& grad, const Tensor& x, double alpha, double scale,
                        double input_scale, bool is_result) {
  // (grad, x) is the operand order of ATen's elu_backward(grad_output, ..., self_or_result).
  if (is_result) {
    const double negative = scale * alpha;  // as the forward's negative branch
    const bool celu = scale == 1.0 && input_scale != 1.0;
    return map_binary(grad, x, "elu_backward", true, [=](auto g, auto v) RELUKIT_INLINE {
      using acc_t = decltype(g);
      const double d = static_cast<double>(v);
      const double gi =
          static_cast<double>(g) * elu_slope_from_output(d, negative, scale, alpha, input_scale,
                                                         celu);
      return v != v ? v : static_cast<acc_t>(gi);
    });
  }
  if (scale == 1.0 && input_scale == 1.0) {  // ELU: f' = 1 on the positive branch, g itself
    return map_binary(grad, x, "elu_backward", true, [alpha](auto g, auto v) RELUKIT_INLINE {
      using acc_t = decltype(g);
      if constexpr (std::is_same_v<acc_t, double>) {
        return v > 0 ? g : (v != v ? v : g * (alpha * std::exp(v)));
      } else {
        const double d = static_cast<double>(v);
        const double gi = static_cast<double>(g) * (alpha * elu_exp(d));
        return v > 0 ? g : (v != v ? v : static_cast<acc_t>(gi));
      }
    });
  }
  const double negative = scale * alpha * input_scale;
  return map_binary(grad, x, "elu_backward", true, [=](auto g, auto v) RELUKIT_INLINE {
    using acc_t = decltype(g);
    if constexpr (std::is_same_v<acc_t, double>) {
      return v > 0 ? scale * g : (v != v ? v : g * (negative * std::exp(input_scale * v)));
    } else {
      const double d = static_cast<double>(v);
      const double gd = static_cast<double>(g);
      const double gi = d > 0 ? scale * gd : gd * (negative * elu_exp(input_scale * d));
      return v != v ? v : static_cast<acc_t>(gi);
    }
  });
}

// --- SiLU, Mish, Sigmoid, Tanh, Hardswish, ReLU6: one op, "activation(x, name)" --------------
// Parameter-free entries: one forward op and one backward op taking the catalog's name, each
// name its own vectorised loop. The backward gets the input, except ReLU6's, which gets the
// output (f' = 1 exactly where 0 < y < 6: saved once, shared with the next layer). float32, float16 and bfloat16
// are computed in float64 and rounded once (the contract: ATen's float32 kernels are up to
// 1.3-1.7e7 ulp off in these gradients, benchmarks/results/ulp.md); every exponential is
// e^v for v <= 0 (elu_exp/elu_expm1 above, clamped at -110, where e^v is below float32's
// smallest subnormal), so nothing overflows and nothing cancels:
//   sigmoid(x) = 1/(1 + u) for x >= 0, u/(1 + u) below, u = e^-|x|; sigmoid' = u/(1 + u)^2.
//   silu(x) = x*sigmoid(x); silu' = s*(1 + x*(1 - s)), s and 1 - s both from u.
//   tanh(|x|) = -m/(2 + m), m = expm1(-2|x|), sign copied from x; tanh' = 4w/(1 + w)^2, w = e^-2|x|.
//   mish(x) = x*t, t = tanh(softplus(x)): n/(n + 2), n = u(u + 2), u = e^x for x <= 0, and
//   (1 + 2w)/(1 + 2w + 2w^2), w = e^-x above; mish' = t + x*(1 - t)(1 + t)*sigmoid(x), 1 - t
//   exact in both forms (2/(n + 2), 2w^2/(1 + 2w + 2w^2)).
//   hardswish(x) = x*min(max(x + 3, 0), 6)/6 (exact in float64 but for the factor 1/6);
//   hardswish' = 0 for x <= -3, 1 for x >= 3 (PyTorch's kink rule), (2x + 3)/6 between.
//   relu6(x) = min(max(x, 0), 6), exact in any dtype (relu6(-0) = -0, as ATen's hardtanh);
//   relu6' = 1 for 0 < y < 6, else 0 (both kinks flat), the same rule on x or on y = relu6(x).
// Limits: x is clamped to [-110, 110] where it multiplies a vanishing factor, so f(-inf) = -0
// for silu, mish and hardswish (0 times -inf would be NaN) and f'(+-inf) is the limit; NaN
// propagates through every formula (comparisons send it to the arithmetic branch).
// float64 input (reached only by calling the op directly: relukit.torch runs the catalog's
// float64 math) gets the same formulas in float64.

struct Smooth {  // f and f' at x, in float64
  double value;
  double slope;
};

[[gnu::always_inline]] inline double clamp110(double d) {
  return d < -110.0 ? -110.0 : (d > 110.0 ? 110.0 : d);  // NaN stays NaN
}

[[gnu::always_inline]] inline Smooth sigmoid_math(double d) {
  const double u = elu_exp(-std::fabs(d));
  const double inv = 1.0 / (1.0 + u);
  return {d >= 0 ? inv : u * inv, u * inv * inv};
}

[[gnu::always_inline]] inline Smooth silu_math(double d) {
  const double u = elu_exp(-std::fabs(d));
  const double inv = 1.0 / (1.0 + u);
  const bool positive = d >= 0;  // -0 takes this branch: silu(-0) = -0/2 = -0
  const double s = positive ? inv : u * inv;
  const double one_minus_s = positive ? u * inv : inv;
  const double c = clamp110(d);
  return {(positive ? d : c) * s, s * (1.0 + c * one_minus_s)};
}

[[gnu::always_inline]] inline Smooth tanh_math(double d) {
  const double a = -2.0 * std::fabs(d);
  const double m = elu_expm1(a);
  const double w = elu_exp(a);
  const double t = -m / (2.0 + m);
  return {std::copysign(t, d), 4.0 * w / ((1.0 + w) * (1.0 + w))};
}

[[gnu::always_inline]] inline Smooth mish_math(double d) {
  const bool positive = d > 0;
  const double e = elu_exp(positive ? -d : d);  // u = e^x (x <= 0) or w = e^-x (x > 0)
  const double n = e * (e + 2.0);
  const double den = positive ? 1.0 + 2.0 * e + 2.0 * e * e : n + 2.0;
  const double t = positive ? (1.0 + 2.0 * e) / den : n / den;
  const double one_minus_t = positive ? 2.0 * e * e / den : 2.0 / den;
  const double sig = positive ? 1.0 / (1.0 + e) : e / (1.0 + e);
  const double c = clamp110(d);
  return {(positive ? d : c) * t, t + c * one_minus_t * (1.0 + t) * sig};
}

[[gnu::always_inline]] inline Smooth hardswish_math(double d) {
  const double c = d < -4.0 ? -4.0 : d;  // below -3 the value is (-0): keep -inf out of 0*inf
  double gate = c + 3.0;
  gate = gate < 0.0 ? 0.0 : gate;
  gate = gate > 6.0 ? 6.0 : gate;
  // Times 1/6 rather than divided by 6: within 1.5 float64 ulps before the one rounding to
  // the input's dtype (float64 input runs the catalog's math), and float64 division made the
  // kernel 1.55x slower (1e6 float32, one thread: 551 -> 355 us forward).
  constexpr double kSixth = 1.0 / 6.0;
  const double slope = d <= -3.0 ? 0.0 : (d >= 3.0 ? 1.0 : (2.0 * d + 3.0) * kSixth);
  return {c * gate * kSixth, slope};
}

// ReLU6 in any precision T (exact: a min and a max; the slope is 0, 1 or NaN).
template <typename T>
[[gnu::always_inline]] inline T relu6_value(T d) {
  const T low = d < T(0) ? T(0) : d;  // NaN and -0 stay
  return low > T(6) ? T(6) : low;
}

template <typename T>
[[gnu::always_inline]] inline T relu6_slope(T d) {
  return d > T(0) && d < T(6) ? T(1) : (d != d ? d : T(0));
}

[[gnu::always_inline]] inline Smooth relu6_math(double d) {
  return {relu6_value(d), relu6_slope(d)};
}

// f(x) (forward) or grad*f'(x) (backward) for each name: the kernel of ``name``, called with a
// functor that maps x's float64 value to Smooth.
template <typename Body>
Tensor by_name(c10::string_view name, Body body) {
  if (name == "silu") return body([](double d) RELUKIT_INLINE { return silu_math(d); });
  if (name == "mish") return body([](double d) RELUKIT_INLINE { return mish_math(d); });
  if (name == "sigmoid") return body([](double d) RELUKIT_INLINE { return sigmoid_math(d); });
  if (name == "tanh") return body([](double d) RELUKIT_INLINE { return tanh_math(d); });
  if (name == "hardswish") return body([](double d) RELUKIT_INLINE { return hardswish_math(d); });
  if (name == "relu6") return body([](double d) RELUKIT_INLINE { return relu6_math(d); });
  TORCH_CHECK(false, "relukit::activation: name must be silu, mish, sigmoid, tanh, hardswish or "
              "relu6; got ", name);
}

Tensor activation_cpu(const Tensor& x, c10::string_view name, bool) {
  if (name == "relu6") {
    // In x's own precision (exact, and no float64 round trip: that made ReLU6 forward+backward
    // ~1.3x torch.nn's, benchmarks/bench_torch_speed.py).
    return map_unary(x, "activation", [](auto v) RELUKIT_INLINE { return relu6_value(v); });
  }
  return by_name(name, [&](auto math) {
    return map_unary(x, "activation", [math](auto v) RELUKIT_INLINE {
      using acc_t = decltype(v);
      return static_cast<acc_t>(math(static_cast<double>(v)).value);
    });
  });
}

// f' from the output y (is_result) where it determines it: sigmoid' = y(1 - y), tanh' =
// (1 - y)(1 + y), in float64 (each factor exact where it is small: Sterbenz), the catalog's
// output_derivative; ReLU6's slope is the same function of x or y.
template <typename Body>
Tensor by_output(c10::string_view name, Body body) {
  if (name == "sigmoid") return body([](double y) RELUKIT_INLINE { return y * (1.0 - y); });
  if (name == "tanh") return body([](double y) RELUKIT_INLINE { return (1.0 - y) * (1.0 + y); });
  TORCH_CHECK(false, "relukit::activation_backward: is_result needs an entry whose output "
              "determines f' (sigmoid, tanh or relu6); got ", name);
}

Tensor activation_backward_cpu(const Tensor& grad, const Tensor& x, c10::string_view name,
                               bool is_result) {
  // Operand order (grad, x), as ATen's silu_backward/mish_backward/hardswish_backward.
  if (is_result && name != "relu6") {
    return by_output(name, [&](auto slope) {
      return map_binary(grad, x, "activation_backward", true,
                        [slope](auto g, auto y) RELUKIT_INLINE {
                          using acc_t = decltype(g);
                          return static_cast<acc_t>(static_cast<double>(g) *
                                                    slope(static_cast<double>(y)));
                        });
    });
  }
  if (name == "relu6") {  // g times a slope of 0, 1 or NaN: exact in g's own precision
    return map_binary(grad, x, "activation_backward", true, [](auto g, auto v) RELUKIT_INLINE {
      return g * relu6_slope(v);
    });
  }
  return by_name(name, [&](auto math) {
    return map_binary(grad, x, "activation_backward", true, [math](auto g, auto v) RELUKIT_INLINE {
      using acc_t = decltype(g);
      return static_cast<acc_t>(static_cast<double>(g) * math(static_cast<double>(v)).slope);
    });
  });
}

// --- Softplus: "softplus(x, beta)" --------------------------------------------------------------
// f(x) = [x where beta*x > 0, else 0] + log1p(e^{-|beta*x|})/beta: two terms of one sign, so
// nothing cancels (the catalog's formula; no threshold: the value is exact everywhere).
// f'(x) = sigmoid(beta*x); from the output (is_result, save="output"), f' = -expm1(-beta*y).
// float32, float16 and bfloat16 in float64, rounded once (float64 input runs the catalog's
// double-double math; these formulas serve a direct call). e^{-|z|} for |z| <= 708; beyond, it is
// 0: its quotient by any beta finite in float32 (|beta| >= 2^-149) is below 1e-262, 0 in float32.
// log1p(u), u in [0, 1]: log(w) + (u - (w - 1))/w with w = 1 + u rounded (fdlibm's correction),
// log(w) = k*ln2 + 2*atanh(s), s = f/(2 + f), f = w/2^k - 1 in [-0.293, 0.415], the series in
// s^2 to s^24/25 (|s| <= 0.172: truncation below 1e-21). ATen's float32 softplus is x past
// beta*x > threshold (2e-9 off at 20 in float64) and its backward from exp(beta*x).

// e^v for v in [-708, 0] (NaN stays NaN): elu_reduce's polynomial down to -708, where 2^k is
// still a normal number.
[[gnu::always_inline]] inline double exp_down_to_708(double v) {
  const EluReduced t = elu_reduce(v, -708.0);
  return std::fma(t.scale, t.em1, t.scale);
}

[[gnu::always_inline]] inline double log1p_unit(double u) {  // u in [0, 1]
  constexpr double kLn2 = 0.6931471805599453;
  const double w = 1.0 + u;
  const double c = (u - (w - 1.0)) / w;  // 1 + u's rounding error, w - 1 exact
  const bool high = w > 1.4142135623730951;
  const double f = (high ? 0.5 * w : w) - 1.0;  // exact
  const double s = f / (2.0 + f);
  const double z = s * s;
  double q = 1.0 / 25;
  q = std::fma(q, z, 1.0 / 23);
  q = std::fma(q, z, 1.0 / 21);
  q = std::fma(q, z, 1.0 / 19);
  q = std::fma(q, z, 1.0 / 17);
  q = std::fma(q, z, 1.0 / 15);
  q = std::fma(q, z, 1.0 / 13);
  q = std::fma(q, z, 1.0 / 11);
  q = std::fma(q, z, 1.0 / 9);
  q = std::fma(q, z, 1.0 / 7);
  q = std::fma(q, z, 1.0 / 5);
  q = std::fma(q, z, 1.0 / 3);
  const double lw = 2.0 * s + 2.0 * s * (z * q);  // 2*atanh(s)
  return (high ? lw + kLn2 : lw) + c;
}

[[gnu::always_inline]] inline double softplus_value(double d, double beta) {
  const double a = std::fabs(beta * d);
  const double u = a > 708.0 ? 0.0 : exp_down_to_708(-a);
  const double linear = beta < 0 ? (d < 0 ? d : 0.0) : (d > 0 ? d : 0.0);
  return linear + log1p_unit(u) / beta;
}

Tensor softplus_cpu(const Tensor& x, double beta, bool) {
  return map_unary(x, "softplus", [beta](auto v) RELUKIT_INLINE {
    using acc_t = decltype(v);
    const double d = static_cast<double>(v);
    return v != v ? v : static_cast<acc_t>(softplus_value(d, beta));
  });
}

Tensor softplus_backward_cpu(const Tensor& grad, const Tensor& x, double beta, bool is_result) {
  // Operand order (grad, x), as ATen's softplus_backward.
  if (is_result) {
    return map_binary(grad, x, "softplus_backward", true, [beta](auto g, auto y) RELUKIT_INLINE {
      using acc_t = decltype(g);
      // -beta*y <= 0 for every output; a tensor that is no output (a direct call) gets the
      // formula at 0 there, not elu_expm1 outside its domain.
      const double v = -beta * static_cast<double>(y);
      const double slope = -elu_expm1(v > 0 ? 0.0 : v);
      return static_cast<acc_t>(static_cast<double>(g) * slope);
    });
  }
  return map_binary(grad, x, "softplus_backward", true, [beta](auto g, auto v) RELUKIT_INLINE {
    using acc_t = decltype(g);
    const double slope = sigmoid_math(beta * static_cast<double>(v)).value;
    return static_cast<acc_t>(static_cast<double>(g) * slope);
  });
}

// --- PReLU ------------------------------------------------------------------------------------
// prelu(x, a) = x > 0 ? x : a*x with a per-channel weight already shaped to broadcast against x
// (the Python layer's job); a zero slope gives 0 at x = -inf (the limit; ATen's 0*(-inf) is
// NaN). Backward: df/dx = x > 0 ? 1 : a (kink: a) with the NaN rule; df/da = x > 0 ? 0 : x,
// computed per element in the same pass and summed to a's shape. Saves the input and the weight
// (as torch.nn). The weight broadcasts, so these loops walk a TensorIterator (strided; a
// contiguous (N, C) input with a (1, C) weight still gets unit-stride rows).

void prelu_check(const Tensor& x, const Tensor& w, const char* name) {
  check_dtype(x, name);
  TORCH_CHECK(w.scalar_type() == x.scalar_type(), name, ": expected a weight of the input's dtype ",
              x.scalar_type(), ", got ", w.scalar_type());
  TORCH_CHECK(w.dim() <= x.dim(), name, ": the weight (", w.dim(),
              " dimensions) must broadcast against the input (", x.dim(), " dimensions)");
}

template <typename scalar_t>
RELUKIT_INLINE inline scalar_t load(const char* p) {
  return *reinterpret_cast<const scalar_t*>(p);
}

// The dense fast path. Measured on this project's CPU (benchmarks/bench_torch_speed.py, 1e6
// float32, one PReLU() slope): the TensorIterator loops below took 0.31 ms forward and 3.5 ms
// backward (ATen's own: 0.06 and 2.8 ms): a data-dependent branch per element, mispredicted on
// half of a random input, and a full-size weight-gradient tensor summed afterwards. When the
// input (and grad) is dense with one layout, the channel of memory offset i is
// (i / stride_c) % C for any dense layout, so the loops walk memory in runs that share one
// slope (contiguous: runs of stride_c elements) or in rows that walk the slopes (channels_last:
// stride_c = 1); the element code is branch-free selects, which GCC vectorises, and df/da is
// summed on the fly in float64, in fixed blocks summed in block order (the same sum for any
// thread count).
struct PreluLayout {
  int64_t channels = 1;  // C: 1 for a single slope
  int64_t run = 0;       // stride of the channel dimension in x (0: a single slope)
};

// The dense layout of x against w, or nothing when the fast path does not apply.
std::optional<PreluLayout> prelu_dense_layout(const Tensor& x, const Tensor& w) {
  if (!x.is_non_overlapping_and_dense()) return std::nullopt;
  if (w.numel() == 1) return PreluLayout{};
  const int64_t offset = x.dim() - w.dim();
  int64_t cdim = -1;
  for (int64_t d = 0; d < w.dim(); ++d) {
    if (w.size(d) == 1) continue;
    if (cdim >= 0 || w.size(d) != x.size(d + offset)) return std::nullopt;
    cdim = d + offset;
  }
  if (cdim < 0) return std::nullopt;
  return PreluLayout{w.numel(), x.stride(cdim)};
}

// The element math, once for every loop below: f = x > 0 ? x : a*x (a zero slope gives 0 at
// x = -inf, its limit); df/dx = x > 0 ? 1 : a (kink: a), NaN at NaN; df/da = x > 0 ? 0 : x.
template <typename acc_t>
RELUKIT_INLINE inline acc_t prelu_value(acc_t v, acc_t a) {
  const acc_t t = (a == 0 && v == -INFINITY) ? acc_t(0) : a * v;
  return v > 0 ? v : t;
}

template <typename acc_t>
RELUKIT_INLINE inline acc_t prelu_input_grad(acc_t g, acc_t v, acc_t a) {
  return v > 0 ? g : (v != v ? v : g * a);
}

template <typename acc_t>
RELUKIT_INLINE inline acc_t prelu_slope_grad(acc_t g, acc_t v) {
  return v > 0 ? acc_t(0) : g * v;  // NaN at NaN
}

template <typename scalar_t>
[[gnu::noinline]] void prelu_forward_run(const scalar_t* __restrict x, scalar_t* __restrict y,
                                         int64_t n, at::opmath_type<scalar_t> a) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<scalar_t>(prelu_value(static_cast<acc_t>(x[i]), a));
  }
}

template <typename scalar_t>
[[gnu::noinline]] void prelu_forward_row(const scalar_t* __restrict x,
                                         const scalar_t* __restrict a, scalar_t* __restrict y,
                                         int64_t n) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<scalar_t>(prelu_value(static_cast<acc_t>(x[i]), static_cast<acc_t>(a[i])));
  }
}

// dx for n elements sharing slope a; returns the float64 sum of df/da·grad over them.
template <typename scalar_t>
[[gnu::noinline]] double prelu_backward_run(const scalar_t* __restrict g,
                                            const scalar_t* __restrict x,
                                            scalar_t* __restrict dx, int64_t n,
                                            at::opmath_type<scalar_t> a) {
  using acc_t = at::opmath_type<scalar_t>;
  double sum = 0;
  // omp simd: the float64 sum in vector lanes, in an order fixed by the shape (reproducible).
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) {
    const acc_t gv = static_cast<acc_t>(g[i]);
    const acc_t v = static_cast<acc_t>(x[i]);
    dx[i] = static_cast<scalar_t>(prelu_input_grad(gv, v, a));
    sum += static_cast<double>(prelu_slope_grad(gv, v));
  }
  return sum;
}

// dx for a row of n elements whose slopes are a[0..n); adds df/da·grad to sums[0..n).
template <typename scalar_t>
[[gnu::noinline]] void prelu_backward_row(const scalar_t* __restrict g,
                                          const scalar_t* __restrict x,
                                          const scalar_t* __restrict a, scalar_t* __restrict dx,
                                          double* __restrict sums, int64_t n) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = 0; i < n; ++i) {
    const acc_t gv = static_cast<acc_t>(g[i]);
    const acc_t v = static_cast<acc_t>(x[i]);
    const acc_t s = static_cast<acc_t>(a[i]);
    dx[i] = static_cast<scalar_t>(prelu_input_grad(gv, v, s));
    sums[i] += static_cast<double>(prelu_slope_grad(gv, v));
  }
}

// Calls run(begin, end, c) for the pieces of [begin, end) that share channel c (layout.run > 1
// or a single slope), or row(begin, end, c0) for pieces whose channels are c0, c0 + 1, ...
// (layout.run == 1).
template <typename Run, typename Row>
void prelu_pieces(const PreluLayout& layout, int64_t begin, int64_t end, Run run, Row row) {
  if (layout.run == 0) {
    run(begin, end, int64_t{0});
  } else if (layout.run == 1) {
    for (int64_t i = begin; i < end;) {
      const int64_t c0 = i % layout.channels;
      const int64_t stop = std::min(end, i + (layout.channels - c0));
      row(i, stop, c0);
      i = stop;
    }
  } else {
    for (int64_t i = begin; i < end;) {
      const int64_t piece = i / layout.run;
      const int64_t stop = std::min(end, (piece + 1) * layout.run);
      run(i, stop, piece % layout.channels);
      i = stop;
    }
  }
}

// Fixed blocks for the weight gradient's partial sums: at least kGrain elements, and enough that
// the (blocks x C) float64 partials never take more bytes than the input has elements.
int64_t prelu_block(int64_t channels) { return std::max<int64_t>(kGrain, 8 * channels); }

Tensor prelu_cpu(const Tensor& x, const Tensor& w) {
  prelu_check(x, w, "prelu");
  Tensor out = empty_output({&x});
  if (out.numel() == 0) return out;
  if (const auto layout = prelu_dense_layout(x, w); layout && same_dense_layout(x, out)) {
    const Tensor slopes = w.contiguous();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "relukit", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const scalar_t* xp = x.const_data_ptr<scalar_t>();
      const scalar_t* ap = slopes.const_data_ptr<scalar_t>();
      scalar_t* yp = out.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
        prelu_pieces(
            *layout, begin, end,
            [&](int64_t b, int64_t e, int64_t c) {
              prelu_forward_run(xp + b, yp + b, e - b, static_cast<acc_t>(ap[c]));
            },
            [&](int64_t b, int64_t e, int64_t c0) {
              prelu_forward_row(xp + b, ap + c0, yp + b, e - b);
            });
      });
    });
    return out;
  }
  auto iter = at::TensorIteratorConfig()
                  .add_output(out)
                  .add_const_input(x)
                  .add_const_input(w)
                  .resize_outputs(false)
                  .build();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "relukit", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    iter.for_each(
        [&](char** data, const int64_t* strides, int64_t n, int64_t rows) {
          for (int64_t r = 0; r < rows; ++r) {
            char* o = data[0] + r * strides[3];
            const char* xp = data[1] + r * strides[4];
            const char* wp = data[2] + r * strides[5];
            for (int64_t i = 0; i < n; ++i) {
              const acc_t v = static_cast<acc_t>(load<scalar_t>(xp + i * strides[1]));
              const acc_t a = static_cast<acc_t>(load<scalar_t>(wp + i * strides[2]));
              const acc_t y = prelu_value(v, a);
              *reinterpret_cast<scalar_t*>(o + i * strides[0]) = static_cast<scalar_t>(y);
            }
          }
        },
        kGrain);
  });
  return out;
}

// The weight's gradient: contiguous, of the weight's shape (CPU and Meta kernels agree).
Tensor prelu_weight_grad(const Tensor& full, const Tensor& w) {
  return at::sum_to(full, w.sym_sizes(), /*always_return_non_view=*/true).contiguous();
}

std::tuple<Tensor, Tensor> prelu_backward_cpu(const Tensor& grad_output, const Tensor& x,
                                              const Tensor& w) {
  prelu_check(x, w, "prelu_backward");
  // ATen's _prelu_kernel_backward operand order: (x, weight, grad).
  auto [g, gx] = binary_args(grad_output, x, "prelu_backward", false);
  if (const auto layout = prelu_dense_layout(x, w);
      layout && gx.numel() > 0 && same_dense_layout(x, gx) && same_dense_layout(g, gx)) {
    const Tensor slopes = w.contiguous();
    const int64_t channels = layout->channels;
    const int64_t block = prelu_block(channels);
    const int64_t blocks = (x.numel() + block - 1) / block;
    std::vector<double> partial(static_cast<size_t>(blocks * channels), 0.0);
    Tensor gw = at::empty(w.sizes(), w.options());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "relukit", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const scalar_t* gp = g.const_data_ptr<scalar_t>();
      const scalar_t* xp = x.const_data_ptr<scalar_t>();
      const scalar_t* ap = slopes.const_data_ptr<scalar_t>();
      scalar_t* dp = gx.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
        for (int64_t k = first; k < last; ++k) {
          double* sums = partial.data() + k * channels;
          const int64_t begin = k * block;
          const int64_t end = std::min(x.numel(), begin + block);
          prelu_pieces(
              *layout, begin, end,
              [&](int64_t b, int64_t e, int64_t c) {
                sums[c] += prelu_backward_run(gp + b, xp + b, dp + b, e - b,
                                              static_cast<acc_t>(ap[c]));
              },
              [&](int64_t b, int64_t e, int64_t c0) {
                prelu_backward_row(gp + b, xp + b, ap + c0, dp + b, sums + c0, e - b);
              });
        }
      });
      scalar_t* wp = gw.mutable_data_ptr<scalar_t>();
      for (int64_t c = 0; c < channels; ++c) {
        double total = 0;
        for (int64_t k = 0; k < blocks; ++k) total += partial[k * channels + c];
        wp[c] = static_cast<scalar_t>(total);
      }
    });
    return {gx, gw};
  }
  Tensor gw_full = at::empty_like(gx);
  if (gx.numel() == 0) return {gx, prelu_weight_grad(gw_full, w)};
  auto iter = at::TensorIteratorConfig()
                  .add_output(gx)
                  .add_output(gw_full)
                  .add_const_input(g)
                  .add_const_input(x)
                  .add_const_input(w)
                  .resize_outputs(false)
                  .build();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "relukit", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    iter.for_each(
        [&](char** data, const int64_t* strides, int64_t n, int64_t rows) {
          constexpr int kArgs = 5;
          for (int64_t r = 0; r < rows; ++r) {
            char* ox = data[0] + r * strides[kArgs + 0];
            char* ow = data[1] + r * strides[kArgs + 1];
            const char* gp = data[2] + r * strides[kArgs + 2];
            const char* xp = data[3] + r * strides[kArgs + 3];
            const char* wp = data[4] + r * strides[kArgs + 4];
            for (int64_t i = 0; i < n; ++i) {
              const acc_t gv = static_cast<acc_t>(load<scalar_t>(gp + i * strides[2]));
              const acc_t v = static_cast<acc_t>(load<scalar_t>(xp + i * strides[3]));
              const acc_t a = static_cast<acc_t>(load<scalar_t>(wp + i * strides[4]));
              const acc_t dx = prelu_input_grad(gv, v, a);
              const acc_t dw = prelu_slope_grad(gv, v);
              *reinterpret_cast<scalar_t*>(ox + i * strides[0]) = static_cast<scalar_t>(dx);
              *reinterpret_cast<scalar_t*>(ow + i * strides[1]) = static_cast<scalar_t>(dw);
            }
          }
        },
        kGrain);
  });
  return {gx, prelu_weight_grad(gw_full, w)};
}

Tensor prelu_meta(const Tensor& x, const Tensor& w) {
  prelu_check(x, w, "prelu");
  return empty_output({&x});
}

std::tuple<Tensor, Tensor> prelu_backward_meta(const Tensor& grad, const Tensor& x,
                                               const Tensor& w) {
  prelu_check(x, w, "prelu_backward");
  Tensor gx = binary_args(grad, x, "prelu_backward", false).out;
  return {gx, at::empty_symint(w.sym_sizes(), w.options())};
}

// Double backward: ATen's _prelu_kernel_backward (differentiable) plus the NaN rule, the
// weight's gradient summed to its shape (the formula of _autograd.PRelu.backward).
std::tuple<Tensor, Tensor> prelu_backward_graph(const Tensor& grad, const Tensor& x,
                                                const Tensor& w) {
  auto [gx, gw] = at::_prelu_kernel_backward(grad, x, w);
  return {at::where(at::isnan(x), x, gx), at::sum_to(gw, w.sym_sizes())};
}

// --- Meta kernels: the output's metadata only ------------------------------------------------
// The same checks and the same output shape, dtype and strides as the CPU kernels, written with
// sym_sizes() so that a symbolic shape (torch.compile(dynamic=True), torch.export) is kept.

Tensor unary_meta(const Tensor& x, const char* name) {
  check_dtype(x, name);
  return empty_output({&x});
}

Tensor binary_meta(const Tensor& grad, const Tensor& saved, const char* name, bool grad_first) {
  return binary_args(grad, saved, name, grad_first).out;
}

Tensor relu_meta(const Tensor& x) { return unary_meta(x, "relu"); }
Tensor leaky_relu_meta(const Tensor& x, double) { return unary_meta(x, "leaky_relu"); }
Tensor gelu_meta(const Tensor& x, bool) { return unary_meta(x, "gelu"); }
Tensor elu_meta(const Tensor& x, double, double, double, bool) { return unary_meta(x, "elu"); }
Tensor activation_meta(const Tensor& x, c10::string_view, bool) {
  return unary_meta(x, "activation");
}
Tensor activation_backward_meta(const Tensor& g, const Tensor& x, c10::string_view, bool) {
  return binary_meta(g, x, "activation_backward", true);
}
Tensor softplus_meta(const Tensor& x, double, bool) { return unary_meta(x, "softplus"); }
Tensor softplus_backward_meta(const Tensor& g, const Tensor& x, double, bool) {
  return binary_meta(g, x, "softplus_backward", true);
}
Tensor elu_backward_meta(const Tensor& g, const Tensor& x, double, double, double, bool) {
  return binary_meta(g, x, "elu_backward", true);
}
Tensor relu_backward_meta(const Tensor& g, const Tensor& s) {
  return binary_meta(g, s, "relu_backward", false);
}
Tensor leaky_relu_backward_meta(const Tensor& g, const Tensor& s, double) {
  return binary_meta(g, s, "leaky_relu_backward", false);
}
Tensor gelu_backward_meta(const Tensor& g, const Tensor& x, bool) {
  return binary_meta(g, x, "gelu_backward", true);
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

Tensor elu_backward_graph(const Tensor& grad, const Tensor& x, double alpha, double scale,
                          double input_scale, bool is_result) {
  if (is_result) {
    // elu_slope_from_output in ATen's differentiable ops, in float64, rounded to grad's dtype.
    const Tensor g = grad.to(at::kDouble);
    const Tensor y = x.to(at::kDouble);
    const Tensor t = at::clamp_min(y + scale * alpha, 0.0);
    const bool celu = scale == 1.0 && input_scale != 1.0;
    const Tensor negative = g * (celu ? t / alpha : t * input_scale);
    const Tensor gi = at::where(y > 0, g * scale, negative);
    return propagate_nan(gi, y).to(grad.scalar_type());
  }
  // f'(x) = scale for x > 0, else scale*alpha*input_scale*exp(input_scale*x), as a select:
  // ATen's elu_backward differentiates with x < 0, so its f''(0) is 0; here the x <= 0 branch
  // gives f''(0) (kink rule).
  const Tensor negative = grad * (scale * alpha * input_scale *
                                  at::exp(at::clamp_max(x, 0) * input_scale));
  const Tensor gi = at::where(x > 0, scale == 1.0 ? grad : grad * scale, negative);
  return propagate_nan(gi, x);
}

Tensor softplus_backward_graph(const Tensor& grad, const Tensor& x, double beta,
                               bool is_result) {
  // softplus_backward_cpu's formulas in ATen's differentiable ops, in float64, rounded once.
  const Tensor g = grad.to(at::kDouble);
  const Tensor w = x.to(at::kDouble);
  const Tensor slope =
      is_result ? -at::expm1(at::clamp_max(w * -beta, 0.0)) : at::sigmoid(w * beta);
  return (g * slope).to(grad.scalar_type());
}

Tensor activation_backward_graph(const Tensor& grad, const Tensor& x, c10::string_view name,
                                 bool is_result) {
  // relukit/torch/_fast_smooth.py's _grad with a graph: grad*f' in float64 (the derivative
  // formulas of its KERNELS table, in ATen's differentiable ops), rounded to grad's dtype; from
  // the output (is_result), by_output's formulas.
  const Tensor g = grad.to(at::kDouble);
  const Tensor w = x.to(at::kDouble);
  Tensor slope;
  if (is_result && (name == "sigmoid" || name == "tanh")) {
    slope = name == "sigmoid" ? w * (1.0 - w) : (1.0 - w) * (1.0 + w);
  } else if (is_result && name != "relu6") {
    TORCH_CHECK(false, "relukit::activation_backward_graph: is_result needs sigmoid, tanh or "
                "relu6; got ", name);
  } else if (name == "silu" || name == "mish") {
    const Tensor c = at::clamp(w, -800.0, 800.0);  // _CLIP: the functions' float64 limits
    const Tensor s = at::sigmoid(c);
    if (name == "silu") {
      slope = s * (1.0 + c * (1.0 - s));
    } else {
      const Tensor t = at::tanh(at::softplus(c));
      slope = t + c * s * (1.0 - t * t);
    }
  } else if (name == "sigmoid") {
    slope = at::sigmoid(w) * at::sigmoid(-w);
  } else if (name == "tanh") {
    slope = at::pow(at::cosh(w), -2);
  } else if (name == "hardswish") {
    slope = at::where(at::isnan(w), w, at::hardswish_backward(at::ones_like(w), w));
  } else {
    // ReLU6, from the output, in its own dtype (exact): _fast_smooth's from_output rule.
    TORCH_CHECK(name == "relu6", "relukit::activation_backward_graph: unknown name ", name);
    const Tensor ht = at::hardtanh_backward(at::ones_like(x), x, 0.0, 6.0);
    return grad * at::where(at::isnan(x), x, ht);
  }
  return (g * slope).to(grad.scalar_type());
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
using PreluBackwardFn = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&);
using EluFn = Tensor(const Tensor&, double, double, double, bool);
using NamedFn = Tensor(const Tensor&, c10::string_view, bool);
using BinaryNamedFn = Tensor(const Tensor&, const Tensor&, c10::string_view, bool);
using EluBackwardFn = Tensor(const Tensor&, const Tensor&, double, double, double, bool);
using SoftplusFn = Tensor(const Tensor&, double, bool);
using SoftplusBackwardFn = Tensor(const Tensor&, const Tensor&, double, bool);

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
const auto& prelu_op() {
  static const auto op = find_op<BinaryFn>("relukit::prelu");
  return op;
}
const auto& prelu_backward_op() {
  static const auto op = find_op<PreluBackwardFn>("relukit::prelu_backward");
  return op;
}
const auto& prelu_backward_graph_op() {
  static const auto op = find_op<PreluBackwardFn>("relukit::prelu_backward_graph");
  return op;
}
const auto& activation_op() {
  static const auto op = find_op<NamedFn>("relukit::activation");
  return op;
}
const auto& activation_backward_op() {
  static const auto op = find_op<BinaryNamedFn>("relukit::activation_backward");
  return op;
}
const auto& activation_backward_graph_op() {
  static const auto op = find_op<BinaryNamedFn>("relukit::activation_backward_graph");
  return op;
}
const auto& elu_op() {
  static const auto op = find_op<EluFn>("relukit::elu");
  return op;
}
const auto& elu_backward_op() {
  static const auto op = find_op<EluBackwardFn>("relukit::elu_backward");
  return op;
}
const auto& softplus_op() {
  static const auto op = find_op<SoftplusFn>("relukit::softplus");
  return op;
}
const auto& softplus_backward_op() {
  static const auto op = find_op<SoftplusBackwardFn>("relukit::softplus_backward");
  return op;
}
const auto& softplus_backward_graph_op() {
  static const auto op = find_op<SoftplusBackwardFn>("relukit::softplus_backward_graph");
  return op;
}
const auto& elu_backward_graph_op() {
  static const auto op = find_op<EluBackwardFn>("relukit::elu_backward_graph");
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
// The forward ops' Autograd kernels redispatch below autograd and give the output a node
// (UnaryBackward; PReLU's torch::autograd::Function) whose backward calls the "<name>_backward"
// op. Those have an Autograd kernel of their own: when a graph is wanted it runs the
// differentiable "<name>_backward_graph", else the kernel.

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

Tensor elu_backward_autograd(const Tensor& grad, const Tensor& x, double alpha, double scale,
                             double input_scale, bool is_result) {
  if (wants_graph(grad, x)) {
    return elu_backward_graph_op().call(grad, x, alpha, scale, input_scale, is_result);
  }
  at::AutoDispatchBelowADInplaceOrView guard;
  return elu_backward_op().call(grad, x, alpha, scale, input_scale, is_result);
}

Tensor softplus_backward_autograd(const Tensor& grad, const Tensor& x, double beta,
                                  bool is_result) {
  if (wants_graph(grad, x)) return softplus_backward_graph_op().call(grad, x, beta, is_result);
  at::AutoDispatchBelowADInplaceOrView guard;
  return softplus_backward_op().call(grad, x, beta, is_result);
}

Tensor activation_backward_autograd(const Tensor& grad, const Tensor& x, c10::string_view name,
                                    bool is_result) {
  if (wants_graph(grad, x)) return activation_backward_graph_op().call(grad, x, name, is_result);
  at::AutoDispatchBelowADInplaceOrView guard;
  return activation_backward_op().call(grad, x, name, is_result);
}

std::tuple<Tensor, Tensor> prelu_backward_autograd(const Tensor& grad, const Tensor& x,
                                                   const Tensor& w) {
  if (at::GradMode::is_enabled() && (grad.requires_grad() || x.requires_grad() ||
                                     w.requires_grad())) {
    return prelu_backward_graph_op().call(grad, x, w);
  }
  at::AutoDispatchBelowADInplaceOrView guard;
  return prelu_backward_op().call(grad, x, w);
}

// The single-input ops' autograd node, built by hand as ATen's generated code builds its own:
// through torch::autograd::Function (its context, hash map of saved data and input/output
// bookkeeping) ReLU and Leaky ReLU took 1.05-1.20x torch.nn's forward+backward with kernels at
// parity, by hand 0.98-1.06x (benchmarks/bench_torch_speed.py, the bare-op control rows,
// three processes each). It saves one tensor (the input, or the output where f' is a function
// of it: ReLU, Leaky ReLU with a positive slope, ReLU6) and the op's parameters, and calls the
// "<name>_backward" op through the dispatcher (so double backward and tracers see it).
// Compiled autograd gets it as an opaque, traceable function of the saved tensor and the
// parameters (apply_with_saved), as it gets torch::autograd::Function's nodes.
enum class Unary : int64_t { kRelu, kLeakyRelu, kGelu, kElu, kActivation, kSoftplus };

struct UnaryParams {
  Unary op = Unary::kRelu;
  double a = 0.0, b = 0.0, c = 0.0;  // slope | tanh (0/1) | alpha, scale, input_scale | beta
  std::string name;                  // the activation op's entry
  bool result = false;               // elu, activation, softplus: the saved tensor is the output
};

variable_list unary_backward(const Tensor& grad, const Tensor& saved, const UnaryParams& p) {
  if (!grad.defined()) return {Tensor()};
  switch (p.op) {
    case Unary::kRelu:
      return {relu_backward_op().call(grad, saved)};
    case Unary::kLeakyRelu:
      return {leaky_relu_backward_op().call(grad, saved, p.a)};
    case Unary::kGelu:
      return {gelu_backward_op().call(grad, saved, p.a != 0.0)};
    case Unary::kElu:
      return {elu_backward_op().call(grad, saved, p.a, p.b, p.c, p.result)};
    case Unary::kActivation:
      return {activation_backward_op().call(grad, saved, p.name, p.result)};
    case Unary::kSoftplus:
      return {softplus_backward_op().call(grad, saved, p.a, p.result)};
  }
  TORCH_CHECK(false, "relukit: unknown unary op");
}

struct UnaryBackward final : public torch::autograd::TraceableFunction {
  torch::autograd::SavedVariable saved_;
  bool saved_output_ = false;
  UnaryParams params_;

  std::string name() const override {
    static const char* const names[] = {"RelukitReluBackward", "RelukitLeakyReluBackward",
                                        "RelukitGeluBackward", "RelukitEluBackward",
                                        "RelukitActivationBackward", "RelukitSoftplusBackward"};
    return names[static_cast<int64_t>(params_.op)];
  }
  void release_variables() override {
    std::lock_guard<std::mutex> lock(mutex_);
    saved_.reset_data();
  }
  variable_list apply(variable_list&& grads) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!task_should_compute_output(0)) return {Tensor()};
    return unary_backward(grads[0], saved_.unpack(getptr()), params_);
  }
  static variable_list functional(const variable_list& grads, const std::vector<c10::IValue>& a) {
    UnaryParams p{static_cast<Unary>(a[1].toInt()), a[2].toDouble(), a[3].toDouble(),
                  a[4].toDouble(), a[5].toStringRef(), a[6].toBool()};
    return unary_backward(grads[0], a[0].toTensor(), p);
  }
  void compiled_args(torch::dynamo::autograd::CompiledNodeArgs& args) const override {
    args.collect(saved_, saved_output_);
    args.collect(static_cast<int64_t>(params_.op));
    args.collect(params_.a);
    args.collect(params_.b);
    args.collect(params_.c);
    args.collect(params_.name);
    args.collect(params_.result);
  }
  variable_list apply_with_saved(const variable_list& grads,
                                 torch::dynamo::autograd::SwapSavedVariables& saved) override {
    namespace ca = torch::dynamo::autograd;
    saved.before(saved_);
    const std::vector<c10::IValue> args{saved_.unpack(getptr()), static_cast<int64_t>(params_.op),
                                        params_.a,  params_.b, params_.c, params_.name,
                                        params_.result};
    const std::vector<at::TypePtr> schema{at::TensorType::get(), c10::IntType::get(),
                                          c10::FloatType::get(), c10::FloatType::get(),
                                          c10::FloatType::get(), c10::StringType::get(),
                                          c10::BoolType::get()};
    const auto& py = ca::getPyCompilerInterface();
    const std::string fn = py->bind_function(saved.get_py_compiler(), name(), functional, schema,
                                             /*is_custom_function=*/true, /*is_traceable=*/true);
    const auto metadata =
        ca::IValuePacker<std::vector<std::optional<torch::autograd::InputMetadata>>>::pack(
            ca::get_input_metadata(next_edges()));
    variable_list result = py->call_function(saved.get_py_compiler(), "apply_functional", fn,
                                             grads, args, metadata);
    saved.after(saved_);
    return result;
  }
};

// out = forward() below autograd; with a gradient to track, a UnaryBackward node saving the
// output (save_output) or the input.
template <typename Forward>
Tensor with_unary_node(const Tensor& x, const char* op, UnaryParams params, bool save_output,
                       Forward forward) {
  // No forward-mode formula here (relukit.torch.functional takes ATen's path under forward AD
  // and torch.func): refuse a tangent rather than drop it.
  TORCH_CHECK(!torch::autograd::isFwGradDefined(x), op,
              ": no forward-mode AD formula; call relukit.torch.functional, which runs ATen's "
              "path under forward AD");
  Tensor out;
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    out = forward();
  }
  if (torch::autograd::compute_requires_grad(x)) {
    auto node = c10::make_intrusive<UnaryBackward>();
    node->set_next_edges(torch::autograd::collect_next_edges(x));
    node->params_ = std::move(params);
    node->saved_output_ = save_output;
    torch::autograd::set_history(out, node);  // before saving the output (it needs grad_fn)
    node->saved_ = torch::autograd::SavedVariable(save_output ? out : x, save_output);
  }
  return out;
}

// PReLU (two inputs, two gradients) keeps torch::autograd::Function. Its backward only calls
// relukit's op through the dispatcher, so compiled autograd may trace it into its graph
// (without is_traceable the node is a graph break, and torch.compile(fullgraph=True) of a
// backward fails; tests/test_torch_compile.py).
struct PreluFunction : public torch::autograd::Function<PreluFunction> {
  static constexpr bool is_traceable = true;
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& w) {
    ctx->save_for_backward({x, w});  // the input and the weight, as torch.nn.PReLU
    at::AutoDispatchBelowADInplaceOrView guard;
    return prelu_op().call(x, w);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto [gx, gw] = prelu_backward_op().call(grads[0], saved[0], saved[1]);
    return {ctx->needs_input_grad(0) ? gx : Tensor(), ctx->needs_input_grad(1) ? gw : Tensor()};
  }
};

Tensor relu_autograd(const Tensor& x) {
  return with_unary_node(x, "relukit::relu", {Unary::kRelu}, true,
                         [&] { return relu_op().call(x); });
}
Tensor leaky_relu_autograd(const Tensor& x, double slope) {
  // A positive slope keeps the input's sign: save the output (torch.nn saves the input).
  return with_unary_node(x, "relukit::leaky_relu", {Unary::kLeakyRelu, slope}, slope > 0,
                         [&] { return leaky_relu_op().call(x, slope); });
}
Tensor gelu_autograd(const Tensor& x, bool tanh) {
  return with_unary_node(x, "relukit::gelu", {Unary::kGelu, tanh ? 1.0 : 0.0}, false,
                         [&] { return gelu_op().call(x, tanh); });
}
Tensor elu_autograd(const Tensor& x, double alpha, double scale, double input_scale,
                    bool save_output) {
  // The input, as torch.nn.ELU (from the output f' cancels in the tail), unless save_output.
  return with_unary_node(
      x, "relukit::elu", {Unary::kElu, alpha, scale, input_scale, "", save_output}, save_output,
      [&] { return elu_op().call(x, alpha, scale, input_scale, save_output); });
}
Tensor activation_autograd(const Tensor& x, c10::string_view name, bool save_output) {
  // The input, as torch.nn (the output does not give f' exactly), but ReLU6's output, and the
  // output with save_output.
  const bool output = save_output || name == "relu6";
  return with_unary_node(x, "relukit::activation",
                         {Unary::kActivation, 0.0, 0.0, 0.0, std::string(name), output}, output,
                         [&] { return activation_op().call(x, name, save_output); });
}
Tensor softplus_autograd(const Tensor& x, double beta, bool save_output) {
  // The input, as torch.nn (from a float32 output f' is up to 1.19 ulp off), unless save_output.
  return with_unary_node(x, "relukit::softplus",
                         {Unary::kSoftplus, beta, 0.0, 0.0, "", save_output}, save_output,
                         [&] { return softplus_op().call(x, beta, save_output); });
}
Tensor prelu_autograd(const Tensor& x, const Tensor& w) { return PreluFunction::apply(x, w); }

// --- batching rules: batched gradients --------------------------------------------------------
// torch.autograd.grad(..., is_grads_batched=True), jacobian(..., vectorize=True) and gradcheck's
// batched-gradient check run the backward under torch._vmap_internals' vmap (the Batched
// dispatch key): each backward op then sees a batch of gradients against one saved tensor.
// Every op is elementwise, so a batched call is one call on the physical tensors, the batch
// dimensions in front; without these rules the vmap fallback calls the kernel once per batch
// element (slices, then a stack). The *_backward_graph ops decompose into ATen ops, which have
// batching rules of their own. (torch.func.vmap, whose FuncTorchBatched rules need functorch's
// internal headers, uses its per-element fallback: correct, and only reached by calling the
// ops directly, since relukit's functions use the ATen path under torch.func.)

template <typename Signature, typename... Args>
Tensor unary_batched(const c10::TypedOperatorHandle<Signature>& op, const Tensor& x,
                     Args... args) {
  const auto* batched = at::maybeGetBatchedImpl(x);
  TORCH_INTERNAL_ASSERT(batched != nullptr, "relukit: a batched call without a batched input");
  // Elementwise and layout-keeping: the batch dimensions stay where they are.
  Tensor out = op.call(batched->value(), args...);
  const auto bdims = batched->bdims();
  return at::makeBatched(std::move(out), at::BatchDims(bdims.begin(), bdims.end()));
}

template <typename Signature, typename... Args>
Tensor binary_batched(const c10::TypedOperatorHandle<Signature>& op, const char* name,
                      const Tensor& grad, const Tensor& saved, Args... args) {
  TORCH_CHECK(grad.sizes() == saved.sizes(), name, ": grad_output has shape ", grad.sizes(),
              " but the saved tensor has shape ", saved.sizes());
  // Batch dimensions in front, aligned; a tensor without one of them has size 1 there, which
  // is expanded (stride 0: read in place, never copied).
  auto physical = at::BroadcastingVmapTransform::logicalToPhysical({grad, saved});
  Tensor g = physical[0].tensor();
  Tensor s = physical[1].tensor();
  if (g.sizes() != s.sizes()) {
    const auto shape = at::infer_size(g.sizes(), s.sizes());
    g = g.expand(shape);
    s = s.expand(shape);
  }
  return physical[0].getPhysicalToLogicalMap().apply(op.call(g, s, args...));
}

Tensor relu_batched(const Tensor& x) { return unary_batched(relu_op(), x); }
Tensor leaky_relu_batched(const Tensor& x, double slope) {
  return unary_batched(leaky_relu_op(), x, slope);
}
Tensor gelu_batched(const Tensor& x, bool tanh) { return unary_batched(gelu_op(), x, tanh); }
Tensor activation_batched(const Tensor& x, c10::string_view name, bool save_output) {
  return unary_batched(activation_op(), x, name, save_output);
}
Tensor activation_backward_batched(const Tensor& grad, const Tensor& x, c10::string_view name,
                                   bool is_result) {
  return binary_batched(activation_backward_op(), "activation_backward", grad, x, name,
                        is_result);
}
Tensor elu_batched(const Tensor& x, double alpha, double scale, double input_scale,
                   bool save_output) {
  return unary_batched(elu_op(), x, alpha, scale, input_scale, save_output);
}
Tensor elu_backward_batched(const Tensor& grad, const Tensor& x, double alpha, double scale,
                            double input_scale, bool is_result) {
  return binary_batched(elu_backward_op(), "elu_backward", grad, x, alpha, scale, input_scale,
                        is_result);
}
Tensor softplus_batched(const Tensor& x, double beta, bool save_output) {
  return unary_batched(softplus_op(), x, beta, save_output);
}
Tensor softplus_backward_batched(const Tensor& grad, const Tensor& x, double beta,
                                 bool is_result) {
  return binary_batched(softplus_backward_op(), "softplus_backward", grad, x, beta, is_result);
}
Tensor relu_backward_batched(const Tensor& grad, const Tensor& result) {
  return binary_batched(relu_backward_op(), "relu_backward", grad, result);
}
Tensor leaky_relu_backward_batched(const Tensor& grad, const Tensor& saved, double slope) {
  return binary_batched(leaky_relu_backward_op(), "leaky_relu_backward", grad, saved, slope);
}
Tensor gelu_backward_batched(const Tensor& grad, const Tensor& x, bool tanh) {
  return binary_batched(gelu_backward_op(), "gelu_backward", grad, x, tanh);
}

}  // namespace
}  // namespace relukit

TORCH_LIBRARY(relukit, m) {
  m.def("relu(Tensor x) -> Tensor");
  m.def("relu_backward(Tensor grad, Tensor result) -> Tensor");
  m.def("leaky_relu(Tensor x, float negative_slope) -> Tensor");
  m.def("leaky_relu_backward(Tensor grad, Tensor saved, float negative_slope) -> Tensor");
  m.def("gelu(Tensor x, bool tanh) -> Tensor");
  m.def("gelu_backward(Tensor grad, Tensor x, bool tanh) -> Tensor");
  m.def(
      "elu(Tensor x, float alpha, float scale=1., float input_scale=1., bool save_output=False) "
      "-> Tensor");
  m.def("prelu(Tensor x, Tensor weight) -> Tensor");
  m.def("activation(Tensor x, str name, bool save_output=False) -> Tensor");
  m.def("activation_backward(Tensor grad, Tensor x, str name, bool is_result=False) -> Tensor");
  m.def("prelu_backward(Tensor grad, Tensor x, Tensor weight) -> (Tensor, Tensor)");
  m.def("softplus(Tensor x, float beta, bool save_output=False) -> Tensor");
  m.def("softplus_backward(Tensor grad, Tensor x, float beta, bool is_result=False) -> Tensor");
  m.def(
      "elu_backward(Tensor grad, Tensor x, float alpha, float scale=1., float input_scale=1., "
      "bool is_result=False) -> Tensor");
  // The differentiable backward passes for double backward, written with ATen ops.
  m.def("relu_backward_graph(Tensor grad, Tensor saved, float param) -> Tensor",
        TORCH_FN(relukit::relu_backward_graph));
  m.def("leaky_relu_backward_graph(Tensor grad, Tensor saved, float param) -> Tensor",
        TORCH_FN(relukit::leaky_relu_backward_graph));
  m.def("gelu_backward_graph(Tensor grad, Tensor saved, float tanh) -> Tensor",
        TORCH_FN(relukit::gelu_backward_graph));
  m.def(
      "elu_backward_graph(Tensor grad, Tensor saved, float alpha, float scale=1., "
      "float input_scale=1., bool is_result=False) -> Tensor",
        TORCH_FN(relukit::elu_backward_graph));
  m.def("activation_backward_graph(Tensor grad, Tensor x, str name, bool is_result=False) -> "
        "Tensor",
        TORCH_FN(relukit::activation_backward_graph));
  m.def(
      "softplus_backward_graph(Tensor grad, Tensor x, float beta, bool is_result=False) -> "
      "Tensor",
      TORCH_FN(relukit::softplus_backward_graph));
  m.def("prelu_backward_graph(Tensor grad, Tensor x, Tensor weight) -> (Tensor, Tensor)",
        TORCH_FN(relukit::prelu_backward_graph));
}

TORCH_LIBRARY_IMPL(relukit, CPU, m) {
  m.impl("relu", relukit::relu_cpu);
  m.impl("relu_backward", relukit::relu_backward_cpu);
  m.impl("leaky_relu", relukit::leaky_relu_cpu);
  m.impl("leaky_relu_backward", relukit::leaky_relu_backward_cpu);
  m.impl("gelu", relukit::gelu_cpu);
  m.impl("gelu_backward", relukit::gelu_backward_cpu);
  m.impl("elu", relukit::elu_cpu);
  m.impl("elu_backward", relukit::elu_backward_cpu);
  m.impl("prelu", relukit::prelu_cpu);
  m.impl("activation", relukit::activation_cpu);
  m.impl("activation_backward", relukit::activation_backward_cpu);
  m.impl("prelu_backward", relukit::prelu_backward_cpu);
  m.impl("softplus", relukit::softplus_cpu);
  m.impl("softplus_backward", relukit::softplus_backward_cpu);
}

TORCH_LIBRARY_IMPL(relukit, Meta, m) {
  m.impl("relu", relukit::relu_meta);
  m.impl("relu_backward", relukit::relu_backward_meta);
  m.impl("leaky_relu", relukit::leaky_relu_meta);
  m.impl("leaky_relu_backward", relukit::leaky_relu_backward_meta);
  m.impl("gelu", relukit::gelu_meta);
  m.impl("gelu_backward", relukit::gelu_backward_meta);
  m.impl("elu", relukit::elu_meta);
  m.impl("elu_backward", relukit::elu_backward_meta);
  m.impl("prelu", relukit::prelu_meta);
  m.impl("activation", relukit::activation_meta);
  m.impl("activation_backward", relukit::activation_backward_meta);
  m.impl("prelu_backward", relukit::prelu_backward_meta);
  m.impl("softplus", relukit::softplus_meta);
  m.impl("softplus_backward", relukit::softplus_backward_meta);
}

TORCH_LIBRARY_IMPL(relukit, Autograd, m) {
  m.impl("relu", relukit::relu_autograd);
  m.impl("leaky_relu", relukit::leaky_relu_autograd);
  m.impl("gelu", relukit::gelu_autograd);
  m.impl("relu_backward", relukit::relu_backward_autograd);
  m.impl("leaky_relu_backward", relukit::leaky_relu_backward_autograd);
  m.impl("gelu_backward", relukit::gelu_backward_autograd);
  m.impl("elu", relukit::elu_autograd);
  m.impl("elu_backward", relukit::elu_backward_autograd);
  m.impl("prelu", relukit::prelu_autograd);
  m.impl("activation", relukit::activation_autograd);
  m.impl("activation_backward", relukit::activation_backward_autograd);
  m.impl("prelu_backward", relukit::prelu_backward_autograd);
  m.impl("softplus", relukit::softplus_autograd);
  m.impl("softplus_backward", relukit::softplus_backward_autograd);
}

TORCH_LIBRARY_IMPL(relukit, Batched, m) {
  m.impl("relu", relukit::relu_batched);
  m.impl("leaky_relu", relukit::leaky_relu_batched);
  m.impl("gelu", relukit::gelu_batched);
  m.impl("relu_backward", relukit::relu_backward_batched);
  m.impl("leaky_relu_backward", relukit::leaky_relu_backward_batched);
  m.impl("gelu_backward", relukit::gelu_backward_batched);
  m.impl("elu", relukit::elu_batched);
  m.impl("elu_backward", relukit::elu_backward_batched);
  m.impl("activation", relukit::activation_batched);
  m.impl("activation_backward", relukit::activation_backward_batched);
  m.impl("softplus", relukit::softplus_batched);
  m.impl("softplus_backward", relukit::softplus_backward_batched);
}
