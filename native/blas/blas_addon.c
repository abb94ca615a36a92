/* A thin N-API addon over a CBLAS (OpenBLAS on Linux, Accelerate on macOS): single-precision matrix products run
 * directly on memory inside the tfjs wasm backend's heap. JavaScript passes the heap (a typed array over the wasm
 * memory's current buffer, shared or not) and byte offsets into it; nothing is copied in or out.
 *
 * Threads: products run synchronously on the calling (main) thread, so the wasm backend's worker threads are idle
 * while they run. Large products are split by the BLAS's own threads; a batch of small products (attention scores),
 * which a BLAS runs on one thread each, is spread over this addon's small pool (one worker fewer than the thread
 * count; the caller works too). Both honour one thread count, set by setThreads(). Idle workers sleep on a
 * condition variable, so no thread spins while wasm kernels run.
 *
 * Built at install time by native/blas/build.sh when a BLAS is found. */
#include <errno.h>
#include <math.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __APPLE__
#define ACCELERATE_NEW_LAPACK
#include <Accelerate/Accelerate.h>
#define BLAS_NAME "Accelerate"
#else
#include <cblas.h>
#ifdef OPENBLAS_VERSION
#define HAVE_OPENBLAS 1
#define BLAS_NAME "OpenBLAS"
#else
#define BLAS_NAME "CBLAS"
#endif
#endif

/* Hot loops get an AVX2 copy next to the baseline one on x86-64 Linux, picked at load time where the CPU has it. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

#define MAX_ARGS 16
#define MAX_THREADS 256
/* Items at or below this many multiply-adds run on one thread inside OpenBLAS (its SMP threshold 65536 x 4), so a
 * batch of them is parallelised here instead. */
#define SMALL_ITEM_MACS 262144.0

#define CHECK_NAPI(call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, NULL, "blas addon: N-API call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

/* ---- the pool: a parallel for over [0, count) ------------------------------------------------------------------ */

typedef void (*range_fn)(void *ctx, int64_t begin, int64_t end);

typedef struct {
  range_fn fn;
  void *ctx;
  int64_t count, grain;
} PoolJob;

static int thread_count = 0; /* 0 until the first load sets it */
static pthread_mutex_t pool_callers = PTHREAD_MUTEX_INITIALIZER; /* one parallel_for at a time (main or worker threads) */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static int pool_workers = 0;    /* started workers */
static int pool_generation = 0; /* bumped for every job */
static int pool_active = 0;     /* workers still inside the current job */
static int pool_wanted = 0;     /* workers that may join the current job */
static const PoolJob *pool_job = NULL;
static atomic_llong pool_next;

static void drain(const PoolJob *j) {
  for (;;) {
    int64_t begin = atomic_fetch_add(&pool_next, j->grain);
    if (begin >= j->count) return;
    int64_t end = begin + j->grain < j->count ? begin + j->grain : j->count;
    j->fn(j->ctx, begin, end);
  }
}

static void *worker_main(void *arg) {
  int index = (int)(intptr_t)arg;
  int seen = 0;
  pthread_mutex_lock(&pool_lock);
  for (;;) {
    while (pool_generation == seen || index >= pool_wanted) {
      if (pool_generation != seen) seen = pool_generation; /* a job this worker is not asked to join */
      pthread_cond_wait(&pool_wake, &pool_lock);
    }
    seen = pool_generation;
    const PoolJob *j = pool_job;
    pthread_mutex_unlock(&pool_lock);
    drain(j);
    pthread_mutex_lock(&pool_lock);
    if (--pool_active == 0) pthread_cond_signal(&pool_done);
  }
  return NULL;
}

/* fn over [0, count) in chunks of grain, on up to thread_count threads (the caller included); returns when done. */
static void parallel_for(int64_t count, int64_t grain, range_fn fn, void *ctx) {
  if (count <= 0) return;
  if (grain < 1) grain = 1;
  int64_t chunks = (count + grain - 1) / grain;
  int helpers = thread_count - 1;
  if (helpers > chunks - 1) helpers = (int)(chunks - 1);
  if (helpers <= 0) {
    fn(ctx, 0, count);
    return;
  }
  PoolJob j = {fn, ctx, count, grain};
  pthread_mutex_lock(&pool_callers);
  pthread_mutex_lock(&pool_lock);
  while (pool_workers < helpers) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker_main, (void *)(intptr_t)pool_workers) != 0) break;
    pthread_detach(t);
    pool_workers++;
  }
  if (helpers > pool_workers) helpers = pool_workers;
  atomic_store(&pool_next, 0);
  pool_job = &j;
  pool_wanted = helpers;
  pool_active = helpers;
  pool_generation++;
  if (helpers > 0) pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  drain(&j);
  pthread_mutex_lock(&pool_lock);
  while (pool_active > 0) pthread_cond_wait(&pool_done, &pool_lock);
  pool_job = NULL;
  pthread_mutex_unlock(&pool_lock);
  pthread_mutex_unlock(&pool_callers);
}

/* Rows per chunk so that a chunk is about `bytes_per_chunk` of work, at least 1. */
static int64_t grain_for(int64_t row_bytes, int64_t bytes_per_chunk) {
  int64_t g = row_bytes > 0 ? bytes_per_chunk / row_bytes : 1;
  return g < 1 ? 1 : g;
}

static void set_threads(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  thread_count = n;
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

/* ---- products ------------------------------------------------------------------------------------------------ */

typedef struct {
  int trans_a, trans_b, m, n, k;
  float beta;
  uint8_t *base;
  uint64_t a_off, b_off, c_off, stride_a, stride_b, stride_c;
  int batch;
} GemmJob;

static void gemm_item(const GemmJob *j, int64_t i) {
  const float *a = (const float *)(j->base + j->a_off + (uint64_t)i * j->stride_a);
  const float *b = (const float *)(j->base + j->b_off + (uint64_t)i * j->stride_b);
  float *c = (float *)(j->base + j->c_off + (uint64_t)i * j->stride_c);
  cblas_sgemm(CblasRowMajor, j->trans_a ? CblasTrans : CblasNoTrans, j->trans_b ? CblasTrans : CblasNoTrans, j->m, j->n,
              j->k, 1.0f, a, j->trans_a ? j->m : j->k, b, j->trans_b ? j->k : j->n, j->beta, c, j->n);
}

static void gemm_range(void *ctx, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i++) gemm_item((const GemmJob *)ctx, i);
}

/* Items of a batch spread over the pool run the BLAS single-threaded (set for the duration: the caller issues every
 * BLAS call of the process, one at a time, so nothing else is affected). */
static void parallel_items(int64_t count, range_fn fn, void *ctx) {
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
  parallel_for(count, 1, fn, ctx);
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(thread_count);
#endif
}

/* Whether a batch of `count` products of `macs` multiply-adds each is better spread over the pool (one product per
 * thread at a time) than run one after another with the BLAS splitting each. */
static int pool_items(int64_t count, double macs) {
  return thread_count > 1 && count > 1 && (macs <= SMALL_ITEM_MACS || count >= 4 * thread_count);
}

static void run_gemm(GemmJob *j) {
  double macs = (double)j->m * (double)j->n * (double)j->k;
  if (pool_items(j->batch, macs))
    parallel_items(j->batch, gemm_range, j);
  else
    gemm_range(j, 0, j->batch);
}

/* ---- argument helpers ---------------------------------------------------------------------------------------- */

/* A typed array of type `want` (its data and element count), else a TypeError with `message`. */
static int typed_array_arg(napi_env env, napi_value value, napi_typedarray_type want, const char *message, void **data,
                           size_t *length) {
  bool is_typed = false;
  napi_typedarray_type t;
  size_t offset;
  napi_value buffer;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &t, length, data, &buffer, &offset) != napi_ok || t != want) {
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

/* The heap: a Uint8Array over the wasm memory's buffer (ArrayBuffer or SharedArrayBuffer). */
static int heap_arg(napi_env env, napi_value value, uint8_t **base, size_t *bytes) {
  return typed_array_arg(env, value, napi_uint8_array, "blas addon: the heap must be a Uint8Array over the wasm memory",
                         (void **)base, bytes);
}

static int int_arg(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != floor(d)) {
    napi_throw_type_error(env, NULL, "blas addon: expected an integer argument");
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    napi_throw_type_error(env, NULL, "blas addon: too few arguments");
    return 0;
  }
  return 1;
}

static int in_heap(napi_env env, size_t heap_bytes, uint64_t off, uint64_t stride, int64_t count, uint64_t span) {
  uint64_t last = off + (count > 0 ? (uint64_t)(count - 1) * stride : 0) + span;
  if (off % 4 != 0 || stride % 4 != 0 || last > heap_bytes) {
    napi_throw_range_error(env, NULL, "blas addon: operand outside the heap or misaligned");
    return 0;
  }
  return 1;
}

/* gemm(heap, transA, transB, m, n, k, aOff, bOff, cOff, batch, strideA, strideB, strideC, accumulate)
 * For i < batch: C_i = op(A_i) op(B_i) (+ C_i when accumulate), row-major, dense: A_i is [m,k] ([k,m] when
 * transposed), B_i [k,n] ([n,k]), C_i [m,n]. Offsets and strides are in bytes; a stride of 0 repeats an operand. */
static napi_value Gemm(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 14, argv)) return NULL;
  uint8_t *base;
  size_t heap_bytes;
  if (!heap_arg(env, argv[0], &base, &heap_bytes)) return NULL;
  int64_t v[13];
  for (int i = 0; i < 13; i++)
    if (!int_arg(env, argv[i + 1], &v[i])) return NULL;
  GemmJob j = {.trans_a = v[0] != 0,
               .trans_b = v[1] != 0,
               .m = (int)v[2],
               .n = (int)v[3],
               .k = (int)v[4],
               .beta = v[12] ? 1.0f : 0.0f,
               .base = base,
               .a_off = (uint64_t)v[5],
               .b_off = (uint64_t)v[6],
               .c_off = (uint64_t)v[7],
               .batch = (int)v[8],
               .stride_a = (uint64_t)v[9],
               .stride_b = (uint64_t)v[10],
               .stride_c = (uint64_t)v[11]};
  if (v[2] < 0 || v[3] < 0 || v[4] < 0 || v[8] < 0 || v[2] > INT32_MAX || v[3] > INT32_MAX || v[4] > INT32_MAX ||
      v[8] > INT32_MAX || v[5] < 0 || v[6] < 0 || v[7] < 0 || v[9] < 0 || v[10] < 0 || v[11] < 0) {
    napi_throw_range_error(env, NULL, "blas addon: negative or too large size");
    return NULL;
  }
  uint64_t m = (uint64_t)j.m, n = (uint64_t)j.n, k = (uint64_t)j.k;
  if (!in_heap(env, heap_bytes, j.a_off, j.stride_a, j.batch, m * k * 4) ||
      !in_heap(env, heap_bytes, j.b_off, j.stride_b, j.batch, k * n * 4) ||
      !in_heap(env, heap_bytes, j.c_off, j.stride_c, j.batch, m * n * 4))
    return NULL;
  if (j.batch == 0 || m == 0 || n == 0) return NULL;
  if (k == 0) {
    if (!j.beta)
      for (int i = 0; i < j.batch; i++) memset(base + j.c_off + (uint64_t)i * j.stride_c, 0, m * n * 4);
    return NULL;
  }
  run_gemm(&j);
  return NULL;
}

/* Integer arguments argv[from .. from+count) into out; throws and returns 0 on a non-integer. */
static int int_args(napi_env env, napi_value *argv, int from, int count, int64_t *out) {
  for (int i = 0; i < count; i++)
    if (!int_arg(env, argv[from + i], &out[i])) return 0;
  return 1;
}

/* A float32 block [off, off + count*4) must lie in the heap. */
static int block_ok(napi_env env, size_t heap_bytes, int64_t off, int64_t count) {
  if (off < 0 || count < 0) {
    napi_throw_range_error(env, NULL, "blas addon: negative offset or size");
    return 0;
  }
  return in_heap(env, heap_bytes, (uint64_t)off, 0, 1, (uint64_t)count * 4);
}

/* ---- epilogue: bias and activation in place ------------------------------------------------------------------ */

enum { ACT_LINEAR = 0, ACT_RELU, ACT_RELU6, ACT_ELU, ACT_SIGMOID, ACT_LEAKYRELU, ACT_PRELU };

typedef struct {
  float *c;
  const float *bias, *prelu;
  int64_t n, bias_len, prelu_len;
  int act;
  float alpha;
} EpilogueJob;

static void epilogue_range(void *ctx, int64_t begin, int64_t end) {
  const EpilogueJob *j = (const EpilogueJob *)ctx;
  for (int64_t r = begin; r < end; r++) {
    float *row = j->c + r * j->n;
    for (int64_t i = 0; i < j->n; i++) {
      float x = row[i];
      if (j->bias) x += j->bias_len == 1 ? j->bias[0] : j->bias[i];
      switch (j->act) {
        case ACT_RELU: x = x > 0 ? x : 0; break;
        case ACT_RELU6: x = x < 0 ? 0 : (x > 6 ? 6 : x); break;
        case ACT_ELU: x = x >= 0 ? x : expf(x) - 1; break;
        case ACT_SIGMOID: x = 1 / (1 + expf(-x)); break;
        case ACT_LEAKYRELU: x = x >= 0 ? x : j->alpha * x; break;
        case ACT_PRELU: x = x >= 0 ? x : (j->prelu_len == 1 ? j->prelu[0] : j->prelu[i]) * x; break;
        default: break;
      }
      row[i] = x;
    }
  }
}

/* epilogue(heap, cOff, rows, n, biasOff, biasLen, activation, alpha, preluOff, preluLen)
 * c[r, j] = act(c[r, j] + bias[j]) over a [rows, n] block; biasLen 0 means no bias, 1 a scalar, n a row vector.
 * prelu weights likewise (preluLen 1 or n). */
static napi_value Epilogue(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 10, argv)) return NULL;
  uint8_t *base;
  size_t heap_bytes;
  if (!heap_arg(env, argv[0], &base, &heap_bytes)) return NULL;
  int64_t v[6], w[2];
  double alpha;
  if (!int_args(env, argv, 1, 6, v) || napi_get_value_double(env, argv[7], &alpha) != napi_ok ||
      !int_args(env, argv, 8, 2, w))
    return NULL;
  int64_t c_off = v[0], rows = v[1], n = v[2], bias_off = v[3], bias_len = v[4], act = v[5];
  int64_t prelu_off = w[0], prelu_len = w[1];
  if (rows < 0 || n <= 0 || act < ACT_LINEAR || act > ACT_PRELU || (bias_len != 0 && bias_len != 1 && bias_len != n) ||
      (act == ACT_PRELU && prelu_len != 1 && prelu_len != n)) {
    napi_throw_range_error(env, NULL, "blas addon: bad epilogue arguments");
    return NULL;
  }
  if (!block_ok(env, heap_bytes, c_off, rows * n) || (bias_len && !block_ok(env, heap_bytes, bias_off, bias_len)) ||
      (act == ACT_PRELU && !block_ok(env, heap_bytes, prelu_off, prelu_len)))
    return NULL;
  EpilogueJob j = {(float *)(base + c_off),
                   bias_len ? (const float *)(base + bias_off) : NULL,
                   act == ACT_PRELU ? (const float *)(base + prelu_off) : NULL,
                   n,
                   bias_len,
                   prelu_len,
                   (int)act,
                   (float)alpha};
  parallel_for(rows, grain_for(n * 4, 64 << 10), epilogue_range, &j);
  return NULL;
}

/* ---- layer normalisation over the last axis ------------------------------------------------------------------ *
 * The arithmetic of the project's JavaScript kernel, in doubles; row sums run in DLANES interleaved partial sums
 * (vectorisable), so a result can differ from the JavaScript kernel's in its last bit:
 *   forward  y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps) (biased variance)
 *   backward dx = rstd * (dy * gamma - mean(dy * gamma) - xhat * mean(dy * gamma * xhat)),
 *            dgamma = sum over rows of dy * xhat, dbeta = sum over rows of dy (summed per block of rows in double,
 *            then the blocks in order). */

typedef struct {
  const float *x, *gamma, *beta, *dy, *mean_in, *rstd_in;
  float *y, *mean, *rstd, *dx;
  double *partial; /* per block: d sums of dy * xhat, then d sums of dy */
  int64_t rows, d, block;
  double eps;
} LayerNormJob;

#define DLANES 8

/* sum of x[i] (centre = 0) or of (x[i] - centre)^2, in doubles over DLANES partial sums */
static inline double row_sum(const float *x, int64_t d, double centre, int squares) {
  double acc[DLANES] = {0};
  int64_t i = 0;
  for (; i + DLANES <= d; i += DLANES)
    for (int l = 0; l < DLANES; l++) {
      const double c = x[i + l] - centre;
      acc[l] += squares ? c * c : c;
    }
  for (; i < d; i++) {
    const double c = x[i] - centre;
    acc[0] += squares ? c * c : c;
  }
  double s = 0;
  for (int l = 0; l < DLANES; l++) s += acc[l];
  return s;
}

VECTOR_CLONES static void layer_norm_range(void *ctx, int64_t begin, int64_t end) {
  const LayerNormJob *j = (const LayerNormJob *)ctx;
  const int64_t d = j->d;
  for (int64_t r = begin; r < end; r++) {
    const float *x = j->x + r * d;
    const double mu = row_sum(x, d, 0, 0) / (double)d;
    const double v = row_sum(x, d, mu, 1);
    const double rs = 1 / sqrt(v / (double)d + j->eps);
    j->mean[r] = (float)mu;
    j->rstd[r] = (float)rs;
    float *y = j->y + r * d;
    for (int64_t i = 0; i < d; i++) y[i] = (float)((x[i] - mu) * rs * j->gamma[i] + j->beta[i]);
  }
}

VECTOR_CLONES static void layer_norm_grad_range(void *ctx, int64_t begin, int64_t end) {
  const LayerNormJob *j = (const LayerNormJob *)ctx;
  const int64_t d = j->d;
  for (int64_t blk = begin; blk < end; blk++) {
    double *dg = j->partial + blk * 2 * d, *db = dg + d;
    for (int64_t i = 0; i < 2 * d; i++) dg[i] = 0;
    const int64_t r1 = (blk + 1) * j->block < j->rows ? (blk + 1) * j->block : j->rows;
    for (int64_t r = blk * j->block; r < r1; r++) {
      const float *x = j->x + r * d, *dy = j->dy + r * d;
      const double mu = j->mean_in[r], rs = j->rstd_in[r];
      double sg[DLANES] = {0}, sgx[DLANES] = {0};
      int64_t i = 0;
      for (; i + DLANES <= d; i += DLANES)
        for (int l = 0; l < DLANES; l++) {
          const double xh = (x[i + l] - mu) * rs, g = dy[i + l];
          dg[i + l] += g * xh;
          db[i + l] += g;
          const double gg = g * j->gamma[i + l];
          sg[l] += gg;
          sgx[l] += gg * xh;
        }
      for (; i < d; i++) {
        const double xh = (x[i] - mu) * rs, g = dy[i];
        dg[i] += g * xh;
        db[i] += g;
        const double gg = g * j->gamma[i];
        sg[0] += gg;
        sgx[0] += gg * xh;
      }
      double tsg = 0, tsgx = 0;
      for (int l = 0; l < DLANES; l++) {
        tsg += sg[l];
        tsgx += sgx[l];
      }
      const double mg = tsg / (double)d, mgx = tsgx / (double)d;
      float *dx = j->dx + r * d;
      for (int64_t i = 0; i < d; i++) {
        const double xh = (x[i] - mu) * rs;
        dx[i] = (float)(rs * ((double)dy[i] * j->gamma[i] - mg - xh * mgx));
      }
    }
  }
}

/* layerNorm(heap, xOff, gammaOff, betaOff, rows, d, eps, yOff, meanOff, rstdOff) */
static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 10, argv)) return NULL;
  uint8_t *base;
  size_t hb;
  if (!heap_arg(env, argv[0], &base, &hb)) return NULL;
  int64_t v[5], w[3];
  double eps;
  if (!int_args(env, argv, 1, 5, v) || napi_get_value_double(env, argv[6], &eps) != napi_ok ||
      !int_args(env, argv, 7, 3, w))
    return NULL;
  int64_t rows = v[3], d = v[4];
  if (rows < 0 || d <= 0) {
    napi_throw_range_error(env, NULL, "blas addon: bad layer norm shape");
    return NULL;
  }
  if (!block_ok(env, hb, v[0], rows * d) || !block_ok(env, hb, v[1], d) || !block_ok(env, hb, v[2], d) ||
      !block_ok(env, hb, w[0], rows * d) || !block_ok(env, hb, w[1], rows) || !block_ok(env, hb, w[2], rows))
    return NULL;
  LayerNormJob j = {0};
  j.x = (const float *)(base + v[0]);
  j.gamma = (const float *)(base + v[1]);
  j.beta = (const float *)(base + v[2]);
  j.y = (float *)(base + w[0]);
  j.mean = (float *)(base + w[1]);
  j.rstd = (float *)(base + w[2]);
  j.rows = rows;
  j.d = d;
  j.eps = eps;
  parallel_for(rows, grain_for(d * 4, 64 << 10), layer_norm_range, &j);
  return NULL;
}

/* layerNormGrad(heap, dyOff, xOff, meanOff, rstdOff, gammaOff, rows, d, dxOff, dgammaOff, dbetaOff) */
static napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 11, argv)) return NULL;
  uint8_t *base;
  size_t hb;
  if (!heap_arg(env, argv[0], &base, &hb)) return NULL;
  int64_t v[10];
  if (!int_args(env, argv, 1, 10, v)) return NULL;
  int64_t rows = v[5], d = v[6];
  if (rows < 0 || d <= 0) {
    napi_throw_range_error(env, NULL, "blas addon: bad layer norm shape");
    return NULL;
  }
  if (!block_ok(env, hb, v[0], rows * d) || !block_ok(env, hb, v[1], rows * d) || !block_ok(env, hb, v[2], rows) ||
      !block_ok(env, hb, v[3], rows) || !block_ok(env, hb, v[4], d) || !block_ok(env, hb, v[7], rows * d) ||
      !block_ok(env, hb, v[8], d) || !block_ok(env, hb, v[9], d))
    return NULL;
  LayerNormJob j = {0};
  j.dy = (const float *)(base + v[0]);
  j.x = (const float *)(base + v[1]);
  j.mean_in = (const float *)(base + v[2]);
  j.rstd_in = (const float *)(base + v[3]);
  j.gamma = (const float *)(base + v[4]);
  j.dx = (float *)(base + v[7]);
  j.rows = rows;
  j.d = d;
  /* a fixed block size (not the thread count) decides the summation order: results do not depend on threads */
  j.block = grain_for(d * 4, 64 << 10);
  int64_t blocks = rows > 0 ? (rows + j.block - 1) / j.block : 0;
  j.partial = (double *)malloc((size_t)(blocks > 0 ? blocks : 1) * 2 * (size_t)d * sizeof(double));
  if (!j.partial) {
    napi_throw_error(env, NULL, "blas addon: out of memory");
    return NULL;
  }
  parallel_for(blocks, 1, layer_norm_grad_range, &j);
  float *dgamma = (float *)(base + v[8]), *dbeta = (float *)(base + v[9]);
  for (int64_t i = 0; i < d; i++) {
    double g = 0, b = 0;
    for (int64_t blk = 0; blk < blocks; blk++) {
      g += j.partial[blk * 2 * d + i];
      b += j.partial[blk * 2 * d + d + i];
    }
    dgamma[i] = (float)g;
    dbeta[i] = (float)b;
  }
  free(j.partial);
  return NULL;
}

/* ---- QuickGELU: y = x * sigmoid(1.702 x) ---------------------------------------------------------------------- *
 * dy/dx = s + 1.702 x s (1 - s) with s = sigmoid(1.702 x). exp is a branch-free polynomial (Cephes expf, about 1 ulp)
 * that compilers vectorise. */


/* exp(x) for x in [-87.3, 89] (callers clamp, in a separate loop: clamping here lets compilers split the caller's
 * division into per-case copies) */
static inline float exp_poly(float x) {
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, 4);
  return p * scale;
}

typedef struct {
  const float *x, *dy;
  float *out;
} GeluJob;

#define GELU_BLOCK 256

/* e[i] = exp(-1.702 x[i]) for m <= GELU_BLOCK values, in three vectorisable loops */
static inline void exp_neg_1702(const float *restrict x, float *restrict e, int64_t m) {
  for (int64_t i = 0; i < m; i++) {
    const float v = -1.702f * x[i];
    e[i] = v < -87.3f ? -87.3f : (v > 89.0f ? 89.0f : v); /* above 88.72 the result is +inf */
  }
  for (int64_t i = 0; i < m; i++) e[i] = exp_poly(e[i]);
}

VECTOR_CLONES static void gelu_block(const float *restrict x, float *restrict y, int64_t n) {
  float e[GELU_BLOCK];
  for (int64_t b = 0; b < n; b += GELU_BLOCK) {
    const int64_t m = n - b < GELU_BLOCK ? n - b : GELU_BLOCK;
    exp_neg_1702(x + b, e, m);
    for (int64_t i = 0; i < m; i++) y[b + i] = x[b + i] / (1.0f + e[i]);
  }
}

VECTOR_CLONES static void gelu_grad_block(const float *restrict dy, const float *restrict x, float *restrict dx,
                                          int64_t n) {
  float e[GELU_BLOCK];
  for (int64_t b = 0; b < n; b += GELU_BLOCK) {
    const int64_t m = n - b < GELU_BLOCK ? n - b : GELU_BLOCK;
    exp_neg_1702(x + b, e, m);
    for (int64_t i = 0; i < m; i++) {
      const float s = 1.0f / (1.0f + e[i]), xi = x[b + i];
      dx[b + i] = dy[b + i] * (s + 1.702f * xi * s * (1.0f - s));
    }
  }
}

static void gelu_range(void *ctx, int64_t begin, int64_t end) {
  const GeluJob *j = (const GeluJob *)ctx;
  gelu_block(j->x + begin, j->out + begin, end - begin);
}

static void gelu_grad_range(void *ctx, int64_t begin, int64_t end) {
  const GeluJob *j = (const GeluJob *)ctx;
  gelu_grad_block(j->dy + begin, j->x + begin, j->out + begin, end - begin);
}

/* quickGelu(heap, xOff, yOff, n) and quickGeluGrad(heap, dyOff, xOff, dxOff, n) */
static napi_value QuickGelu(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 4, argv)) return NULL;
  uint8_t *base;
  size_t hb;
  if (!heap_arg(env, argv[0], &base, &hb)) return NULL;
  int64_t v[3];
  if (!int_args(env, argv, 1, 3, v)) return NULL;
  if (!block_ok(env, hb, v[0], v[2]) || !block_ok(env, hb, v[1], v[2])) return NULL;
  GeluJob j = {(const float *)(base + v[0]), NULL, (float *)(base + v[1])};
  parallel_for(v[2], 16384, gelu_range, &j);
  return NULL;
}

static napi_value QuickGeluGrad(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 5, argv)) return NULL;
  uint8_t *base;
  size_t hb;
  if (!heap_arg(env, argv[0], &base, &hb)) return NULL;
  int64_t v[4];
  if (!int_args(env, argv, 1, 4, v)) return NULL;
  if (!block_ok(env, hb, v[0], v[3]) || !block_ok(env, hb, v[1], v[3]) || !block_ok(env, hb, v[2], v[3])) return NULL;
  GeluJob j = {(const float *)(base + v[1]), (const float *)(base + v[0]), (float *)(base + v[2])};
  parallel_for(v[3], 16384, gelu_grad_range, &j);
  return NULL;
}

/* ---- 2-D convolution, NHWC input, HWIO filter, as patch matrices and sgemm ----------------------------------- *
 * Output pixel p = (n, oh, ow) has the patch row P[p, (i, j, ci)] = x[n, oh*sh + i*dh - top, ow*sw + j*dw - left, ci]
 * (0 outside the image), so y = P W, dW = P^T dy, dP = dy W^T (dx = the patches of dP added back). P is built a chunk
 * of rows at a time (at most about CHUNK_BYTES) outside the heap. */

#define CHUNK_BYTES (16 << 20)

typedef struct {
  int64_t n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, top, left;
} ConvShape;

typedef struct {
  const ConvShape *s;
  const float *x; /* im2col source */
  float *dx;      /* col2im target */
  float *cols;
  int64_t row0;
} ColsJob;

/* patch rows [row0 + begin, row0 + end) into cols */
static void im2col_range(void *ctx, int64_t begin, int64_t end) {
  const ColsJob *j = (const ColsJob *)ctx;
  const ConvShape *s = j->s;
  const int64_t k = s->kh * s->kw * s->ci;
  for (int64_t q = begin; q < end; q++) {
    int64_t p = j->row0 + q;
    const int64_t ow = p % s->ow, oh = (p / s->ow) % s->oh, n = p / (s->ow * s->oh);
    float *row = j->cols + q * k;
    const int64_t x0 = ow * s->sw - s->left; /* first input column of the patch */
    const int contiguous = s->dw == 1 && x0 >= 0 && x0 + s->kw <= s->w;
    for (int64_t i = 0; i < s->kh; i++) {
      const int64_t y = oh * s->sh + i * s->dh - s->top;
      float *dst = row + i * s->kw * s->ci;
      if (y < 0 || y >= s->h) {
        memset(dst, 0, (size_t)(s->kw * s->ci) * 4);
        continue;
      }
      const float *src = j->x + (n * s->h + y) * s->w * s->ci;
      if (contiguous) { /* the patch row is one run of kw * ci floats in x */
        memcpy(dst, src + x0 * s->ci, (size_t)(s->kw * s->ci) * 4);
        continue;
      }
      for (int64_t jj = 0; jj < s->kw; jj++) {
        const int64_t xx = x0 + jj * s->dw;
        if (xx < 0 || xx >= s->w)
          memset(dst + jj * s->ci, 0, (size_t)s->ci * 4);
        else
          memcpy(dst + jj * s->ci, src + xx * s->ci, (size_t)s->ci * 4);
      }
    }
  }
}

/* add patch rows back into dx, one image at a time per task (images never overlap) */
typedef struct {
  const ConvShape *s;
  float *dx;
  const float *cols;
  int64_t row0, rows;
} Col2ImJob;

static void col2im_range(void *ctx, int64_t begin, int64_t end) {
  const Col2ImJob *j = (const Col2ImJob *)ctx;
  const ConvShape *s = j->s;
  const int64_t k = s->kh * s->kw * s->ci, per_image = s->oh * s->ow;
  const int64_t first_image = j->row0 / per_image;
  for (int64_t img = first_image + begin; img < first_image + end; img++) {
    int64_t p0 = img * per_image, p1 = p0 + per_image;
    if (p0 < j->row0) p0 = j->row0;
    if (p1 > j->row0 + j->rows) p1 = j->row0 + j->rows;
    for (int64_t p = p0; p < p1; p++) {
      const int64_t ow = p % s->ow, oh = (p / s->ow) % s->oh;
      const float *row = j->cols + (p - j->row0) * k;
      for (int64_t i = 0; i < s->kh; i++) {
        const int64_t y = oh * s->sh + i * s->dh - s->top;
        if (y < 0 || y >= s->h) continue;
        for (int64_t jj = 0; jj < s->kw; jj++) {
          const int64_t xx = ow * s->sw + jj * s->dw - s->left;
          if (xx < 0 || xx >= s->w) continue;
          float *dst = j->dx + ((img * s->h + y) * s->w + xx) * s->ci;
          const float *src = row + (i * s->kw + jj) * s->ci;
          for (int64_t c = 0; c < s->ci; c++) dst[c] += src[c];
        }
      }
    }
  }
}

static void zero_range(void *ctx, int64_t begin, int64_t end) {
  memset((float *)ctx + begin, 0, (size_t)(end - begin) * 4);
}

/* A 1x1 convolution with stride 1 and no padding reads x as the patch matrix directly. */
static int conv_is_pointwise(const ConvShape *s) {
  return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->top == 0 && s->left == 0 && s->oh == s->h &&
         s->ow == s->w;
}

enum { CONV_FORWARD = 0, CONV_FILTER_GRAD = 1, CONV_INPUT_GRAD = 2 };

/* conv2d(heap, mode, aOff, bOff, outOff, n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, top, left) with
 *   mode 0 (forward):      a = x, b = filter, out = y
 *   mode 1 (filter grad):  a = x, b = dy, out = dW
 *   mode 2 (input grad):   a = dy, b = filter, out = dx */
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  napi_value argv[24];
  size_t argc = 24;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 20) {
    napi_throw_type_error(env, NULL, "blas addon: too few arguments");
    return NULL;
  }
  uint8_t *base;
  size_t hb;
  if (!heap_arg(env, argv[0], &base, &hb)) return NULL;
  int64_t v[19];
  if (!int_args(env, argv, 1, 19, v)) return NULL;
  const int mode = (int)v[0];
  ConvShape s = {v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18]};
  int bad = 0;
  for (int i = 4; i < 19; i++) bad |= v[i] < 0;
  bad |= s.ci < 1 || s.kh < 1 || s.kw < 1 || s.co < 1 || s.sh < 1 || s.sw < 1 || s.dh < 1 || s.dw < 1;
  if (bad) {
    napi_throw_range_error(env, NULL, "blas addon: bad convolution shape");
    return NULL;
  }
  if (mode < CONV_FORWARD || mode > CONV_INPUT_GRAD) {
    napi_throw_range_error(env, NULL, "blas addon: bad convolution mode");
    return NULL;
  }
  const int64_t xsize = s.n * s.h * s.w * s.ci, wsize = s.kh * s.kw * s.ci * s.co, ysize = s.n * s.oh * s.ow * s.co;
  const int64_t sizes[3][3] = {{xsize, wsize, ysize}, {xsize, ysize, wsize}, {ysize, wsize, xsize}};
  if (!block_ok(env, hb, v[1], sizes[mode][0]) || !block_ok(env, hb, v[2], sizes[mode][1]) ||
      !block_ok(env, hb, v[3], sizes[mode][2]))
    return NULL;
  const float *a = (const float *)(base + v[1]), *b = (const float *)(base + v[2]);
  float *out = (float *)(base + v[3]);
  const int64_t rows = s.n * s.oh * s.ow, k = s.kh * s.kw * s.ci;
  if (rows == 0) {
    if (mode == CONV_FILTER_GRAD) parallel_for(wsize, 1 << 16, zero_range, out);
    if (mode == CONV_INPUT_GRAD) parallel_for(xsize, 1 << 16, zero_range, out);
    return NULL;
  }
  if (conv_is_pointwise(&s)) {
    /* P = x itself ([rows, ci]); dx = dy W^T directly */
    if (mode == CONV_FORWARD)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)s.co, (int)k, 1.0f, a, (int)k, b,
                  (int)s.co, 0.0f, out, (int)s.co);
    else if (mode == CONV_FILTER_GRAD)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)s.co, (int)rows, 1.0f, a, (int)k, b,
                  (int)s.co, 0.0f, out, (int)s.co);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)k, (int)s.co, 1.0f, a, (int)s.co, b,
                  (int)s.co, 0.0f, out, (int)k);
    return NULL;
  }
  int64_t chunk = CHUNK_BYTES / (k * 4);
  if (mode == CONV_INPUT_GRAD) {
    /* whole images per chunk, so images are never split between two col2im passes running at once */
    const int64_t per_image = s.oh * s.ow;
    chunk = (chunk / per_image) * per_image;
    if (chunk < per_image) chunk = per_image;
  }
  if (chunk < 1) chunk = 1;
  if (chunk > rows) chunk = rows;
  if (mode == CONV_INPUT_GRAD) parallel_for(xsize, 1 << 16, zero_range, out);
  float *cols = (float *)malloc((size_t)chunk * (size_t)k * 4);
  if (!cols) {
    napi_throw_error(env, NULL, "blas addon: out of memory for convolution patches");
    return NULL;
  }
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t m = rows - r0 < chunk ? rows - r0 : chunk;
    if (mode == CONV_FORWARD || mode == CONV_FILTER_GRAD) {
      ColsJob cj = {&s, a, NULL, cols, r0};
      parallel_for(m, grain_for(k * 4, 256 << 10), im2col_range, &cj);
    }
    if (mode == CONV_FORWARD) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)s.co, (int)k, 1.0f, cols, (int)k, b,
                  (int)s.co, 0.0f, out + r0 * s.co, (int)s.co);
    } else if (mode == CONV_FILTER_GRAD) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)s.co, (int)m, 1.0f, cols, (int)k,
                  b + r0 * s.co, (int)s.co, r0 == 0 ? 0.0f : 1.0f, out, (int)s.co);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)s.co, 1.0f, a + r0 * s.co, (int)s.co,
                  b, (int)s.co, 0.0f, cols, (int)k);
      const int64_t per_image = s.oh * s.ow;
      Col2ImJob cj = {&s, out, cols, r0, m};
      parallel_for((m + per_image - 1) / per_image, 1, col2im_range, &cj);
    }
  }
  free(cols);
  return NULL;
}

/* ---- column sums: out[c] = sum over rows r of x[r, c] ----------------------------------------------------------- *
 * Each column block is summed row by row in float, in row order: the floats of a row-wise sum of the transposed
 * matrix, as tfjs's own reduction computes them. */

typedef struct {
  const float *x;
  float *out;
  int64_t rows, cols;
} ColSumJob;

#define COLSUM_BLOCK 512

VECTOR_CLONES static void col_sum_range(void *ctx, int64_t begin, int64_t end) {
  const ColSumJob *j = (const ColSumJob *)ctx;
  for (int64_t c0 = begin * COLSUM_BLOCK; c0 < end * COLSUM_BLOCK && c0 < j->cols; c0 += COLSUM_BLOCK) {
    const int64_t n = j->cols - c0 < COLSUM_BLOCK ? j->cols - c0 : COLSUM_BLOCK;
    float acc[COLSUM_BLOCK];
    for (int64_t c = 0; c < n; c++) acc[c] = 0;
    for (int64_t r = 0; r < j->rows; r++) {
      const float *row = j->x + r * j->cols + c0;
      for (int64_t c = 0; c < n; c++) acc[c] += row[c];
    }
    memcpy(j->out + c0, acc, (size_t)n * 4);
  }
}

/* columnSum(heap, xOff, rows, cols, outOff) */
static napi_value ColumnSum(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 5, argv)) return NULL;
  uint8_t *base;
  size_t hb;
  if (!heap_arg(env, argv[0], &base, &hb)) return NULL;
  int64_t v[4];
  if (!int_args(env, argv, 1, 4, v)) return NULL;
  if (v[1] < 0 || v[2] < 0 || !block_ok(env, hb, v[0], v[1] * v[2]) || !block_ok(env, hb, v[3], v[2])) return NULL;
  ColSumJob j = {(const float *)(base + v[0]), (float *)(base + v[3]), v[1], v[2]};
  const int64_t blocks = (v[2] + COLSUM_BLOCK - 1) / COLSUM_BLOCK;
  /* small sums are not worth waking the pool */
  if (v[1] * v[2] < (1 << 16))
    col_sum_range(&j, 0, blocks);
  else
    parallel_for(blocks, 1, col_sum_range, &j);
  return NULL;
}

/* ---- multi-head self-attention on the packed projection -------------------------------------------------------- *
 * qkv [B, T, 3W] holds q | k | v, head h at columns h*D of each (W = H*D). Per (batch, head) item, with strided BLAS
 * calls straight on qkv (no split, no transposes):
 *   forward   P = softmax(scale Q K^T + mask), out[:, h*D:(h+1)*D] = P V       (out [B, T, W], P kept [B, H, T, T])
 *   backward  dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = scale dS K, dK = scale dS^T Q  (into dqkv)
 * mask: additive [T, T] (0 keep, very negative drop), shared by every item, or none. */

typedef struct {
  const float *qkv, *mask, *dout;
  float *out, *probs, *dqkv;
  int64_t t, h, d;
  float scale;
} AttnJob;

#define LANES 8

/* max and sum over n floats with LANES independent lanes (vectorisable without reassociation flags) */
static inline float max_lanes(const float *x, int64_t n) {
  float m[LANES];
  for (int l = 0; l < LANES; l++) m[l] = x[0];
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
  for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
  float r = m[0];
  for (int l = 1; l < LANES; l++) r = m[l] > r ? m[l] : r;
  return r;
}

static inline float sum_lanes(const float *x, int64_t n) {
  float s[LANES] = {0};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) s[l] += x[i + l];
  for (; i < n; i++) s[0] += x[i];
  float r = 0;
  for (int l = 0; l < LANES; l++) r += s[l];
  return r;
}

VECTOR_CLONES static void softmax_rows(float *p, const float *mask, int64_t t) {
  float e[GELU_BLOCK];
  for (int64_t i = 0; i < t; i++) {
    float *row = p + i * t;
    if (mask)
      for (int64_t j = 0; j < t; j++) row[j] += mask[i * t + j];
    const float mx = max_lanes(row, t);
    float sum = 0;
    for (int64_t b = 0; b < t; b += GELU_BLOCK) {
      const int64_t m = t - b < GELU_BLOCK ? t - b : GELU_BLOCK;
      for (int64_t j = 0; j < m; j++) {
        const float v = row[b + j] - mx;
        e[j] = v < -87.3f ? -87.3f : v;
      }
      for (int64_t j = 0; j < m; j++) e[j] = exp_poly(e[j]);
      for (int64_t j = 0; j < m; j++) row[b + j] = row[b + j] - mx < -87.3f ? 0.0f : e[j]; /* underflow to 0 */
      sum += sum_lanes(row + b, m);
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < t; j++) row[j] *= inv;
  }
}

static void attn_forward_range(void *ctx, int64_t begin, int64_t end) {
  const AttnJob *j = (const AttnJob *)ctx;
  const int64_t t = j->t, d = j->d, w = j->h * d, ld = 3 * w;
  for (int64_t item = begin; item < end; item++) {
    const int64_t b = item / j->h, h = item % j->h;
    const float *q = j->qkv + b * t * ld + h * d, *k = q + w, *v = q + 2 * w;
    float *p = j->probs + item * t * t;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)t, (int)t, (int)d, j->scale, q, (int)ld, k, (int)ld, 0.0f,
                p, (int)t);
    softmax_rows(p, j->mask, t);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t, (int)d, (int)t, 1.0f, p, (int)t, v, (int)ld, 0.0f,
                j->out + b * t * w + h * d, (int)w);
  }
}

/* dS = P (dP - sum(dP P)) in place over one row */
VECTOR_CLONES static void softmax_backward_row(float *restrict row, const float *restrict prow, int64_t t) {
  float s[LANES] = {0};
  int64_t c = 0;
  for (; c + LANES <= t; c += LANES)
    for (int l = 0; l < LANES; l++) s[l] += row[c + l] * prow[c + l];
  for (; c < t; c++) s[0] += row[c] * prow[c];
  float dot = 0;
  for (int l = 0; l < LANES; l++) dot += s[l];
  for (c = 0; c < t; c++) row[c] = prow[c] * (row[c] - dot);
}

static atomic_int attn_out_of_memory;

static void attn_backward_range(void *ctx, int64_t begin, int64_t end) {
  const AttnJob *j = (const AttnJob *)ctx;
  const int64_t t = j->t, d = j->d, w = j->h * d, ld = 3 * w;
  float *ds = (float *)malloc((size_t)(t * t) * 4);
  if (!ds) {
    atomic_store(&attn_out_of_memory, 1); /* reported by the caller */
    return;
  }
  for (int64_t item = begin; item < end; item++) {
    const int64_t b = item / j->h, h = item % j->h;
    const float *q = j->qkv + b * t * ld + h * d, *k = q + w, *v = q + 2 * w;
    const float *p = j->probs + item * t * t, *dout = j->dout + b * t * w + h * d;
    float *dq = j->dqkv + b * t * ld + h * d, *dk = dq + w, *dv = dq + 2 * w;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)t, (int)d, (int)t, 1.0f, p, (int)t, dout, (int)w, 0.0f,
                dv, (int)ld);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)t, (int)t, (int)d, 1.0f, dout, (int)w, v, (int)ld, 0.0f,
                ds, (int)t);
    for (int64_t i = 0; i < t; i++) {
      float *row = ds + i * t;
      const float *prow = p + i * t;
      softmax_backward_row(row, prow, t);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t, (int)d, (int)t, j->scale, ds, (int)t, k, (int)ld,
                0.0f, dq, (int)ld);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)t, (int)d, (int)t, j->scale, ds, (int)t, q, (int)ld, 0.0f,
                dk, (int)ld);
  }
  free(ds);
}

static void run_attention(AttnJob *j, int64_t items, range_fn fn) {
  const double macs = (double)j->t * (double)j->t * (double)j->d;
  if (pool_items(items, macs))
    parallel_items(items, fn, j);
  else
    fn(j, 0, items);
}

/* attention(heap, qkvOff, maskOff, outOff, probsOff, b, t, heads, d, scale); maskOff < 0: no mask */
static napi_value Attention(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 10, argv)) return NULL;
  uint8_t *base;
  size_t hb;
  if (!heap_arg(env, argv[0], &base, &hb)) return NULL;
  int64_t v[8];
  double scale;
  if (!int_args(env, argv, 1, 8, v) || napi_get_value_double(env, argv[9], &scale) != napi_ok) return NULL;
  const int64_t bsz = v[4], t = v[5], h = v[6], d = v[7];
  if (bsz < 0 || t < 1 || h < 1 || d < 1) {
    napi_throw_range_error(env, NULL, "blas addon: bad attention shape");
    return NULL;
  }
  if (!block_ok(env, hb, v[0], bsz * t * 3 * h * d) || (v[1] >= 0 && !block_ok(env, hb, v[1], t * t)) ||
      !block_ok(env, hb, v[2], bsz * t * h * d) || !block_ok(env, hb, v[3], bsz * h * t * t))
    return NULL;
  AttnJob j = {(const float *)(base + v[0]),
               v[1] >= 0 ? (const float *)(base + v[1]) : NULL,
               NULL,
               (float *)(base + v[2]),
               (float *)(base + v[3]),
               NULL,
               t,
               h,
               d,
               (float)scale};
  run_attention(&j, bsz * h, attn_forward_range);
  return NULL;
}

/* attentionGrad(heap, doutOff, qkvOff, probsOff, dqkvOff, b, t, heads, d, scale) */
static napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 10, argv)) return NULL;
  uint8_t *base;
  size_t hb;
  if (!heap_arg(env, argv[0], &base, &hb)) return NULL;
  int64_t v[8];
  double scale;
  if (!int_args(env, argv, 1, 8, v) || napi_get_value_double(env, argv[9], &scale) != napi_ok) return NULL;
  const int64_t bsz = v[4], t = v[5], h = v[6], d = v[7];
  if (bsz < 0 || t < 1 || h < 1 || d < 1) {
    napi_throw_range_error(env, NULL, "blas addon: bad attention shape");
    return NULL;
  }
  if (!block_ok(env, hb, v[0], bsz * t * h * d) || !block_ok(env, hb, v[1], bsz * t * 3 * h * d) ||
      !block_ok(env, hb, v[2], bsz * h * t * t) || !block_ok(env, hb, v[3], bsz * t * 3 * h * d))
    return NULL;
  AttnJob j = {(const float *)(base + v[1]),
               NULL,
               (const float *)(base + v[0]),
               NULL,
               (float *)(base + v[2]),
               (float *)(base + v[3]),
               t,
               h,
               d,
               (float)scale};
  atomic_store(&attn_out_of_memory, 0);
  run_attention(&j, bsz * h, attn_backward_range);
  if (atomic_load(&attn_out_of_memory)) napi_throw_error(env, NULL, "blas addon: out of memory in the attention gradient");
  return NULL;
}

/* ---- threads and identity ------------------------------------------------------------------------------------ */

/* ---- AdamW: the optimiser update of the host placement (src/train/adamw.ts) -------------------------------------- */

typedef struct {
  float *w, *m, *v;
  const float *g;
  float decay, b1, c1, b2, c2, sqrt_bc2, eps, step_size;
} AdamJob;

/* float32 arithmetic in PyTorch's order, each operation rounded to float (no contraction: -ffp-contract=off), so the
 * result is bit-identical to the JavaScript loop it replaces (whose double operations rounded to float give the same
 * values: one IEEE operation on floats, done in double and rounded once, is the correctly rounded float result). */
static void adamw_range(void *ctx, int64_t begin, int64_t end) {
  const AdamJob *j = (const AdamJob *)ctx;
  float *restrict w = j->w, *restrict m = j->m, *restrict v = j->v;
  const float *restrict g = j->g;
  for (int64_t i = begin; i < end; i++) {
    const float gi = g[i];
    const float value = w[i] * j->decay;
    const float mi = m[i] * j->b1 + gi * j->c1;
    const float vi = v[i] * j->b2 + (gi * gi) * j->c2;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrtf(vi) / j->sqrt_bc2 + j->eps;
    w[i] = value - (mi / denom) * j->step_size;
  }
}

/* adamw(w, g, m, v, decay, beta1, 1 - beta1, beta2, 1 - beta2, sqrt(1 - beta2^t), eps, lr / (1 - beta1^t)):
 * one AdamW update in place on w, m and v (Float32Arrays of one length); decay is 1 - lr * wd, or 1. */
static napi_value AdamW(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 12, argv)) return NULL;
  float *arrays[4];
  size_t lengths[4];
  for (int i = 0; i < 4; i++)
    if (!typed_array_arg(env, argv[i], napi_float32_array, "blas addon: adamw expects Float32Arrays",
                         (void **)&arrays[i], &lengths[i]))
      return NULL;
  if (lengths[1] != lengths[0] || lengths[2] != lengths[0] || lengths[3] != lengths[0]) {
    napi_throw_range_error(env, NULL, "blas addon: adamw arrays differ in length");
    return NULL;
  }
  double c[8];
  for (int i = 0; i < 8; i++)
    if (napi_get_value_double(env, argv[4 + i], &c[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "blas addon: adamw expects numbers");
      return NULL;
    }
  AdamJob j = {arrays[0], arrays[2], arrays[3], arrays[1], (float)c[0], (float)c[1], (float)c[2], (float)c[3],
               (float)c[4], (float)c[5], (float)c[6], (float)c[7]};
  parallel_for((int64_t)lengths[0], 65536, adamw_range, &j);
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 1, argv)) return NULL;
  int64_t n;
  if (!int_arg(env, argv[0], &n)) return NULL;
  if (n < 1) {
    napi_throw_range_error(env, NULL, "blas addon: thread count must be >= 1");
    return NULL;
  }
  set_threads((int)n);
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  char text[512];
#ifdef HAVE_OPENBLAS
  snprintf(text, sizeof text, "%s", openblas_get_config());
  int blas_threads = openblas_get_num_threads();
  const char *core = openblas_get_corename();
#else
  snprintf(text, sizeof text, "%s", BLAS_NAME);
  int blas_threads = thread_count;
  const char *core = "";
#endif
  napi_value obj, name, config, threads, bt, corename;
  CHECK_NAPI(napi_create_object(env, &obj));
  CHECK_NAPI(napi_create_string_utf8(env, BLAS_NAME, NAPI_AUTO_LENGTH, &name));
  CHECK_NAPI(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &config));
  CHECK_NAPI(napi_create_int32(env, thread_count, &threads));
  CHECK_NAPI(napi_create_int32(env, blas_threads, &bt));
  CHECK_NAPI(napi_create_string_utf8(env, core, NAPI_AUTO_LENGTH, &corename));
  CHECK_NAPI(napi_set_named_property(env, obj, "name", name));
  CHECK_NAPI(napi_set_named_property(env, obj, "config", config));
  CHECK_NAPI(napi_set_named_property(env, obj, "threads", threads));
  CHECK_NAPI(napi_set_named_property(env, obj, "blasThreads", bt));
  CHECK_NAPI(napi_set_named_property(env, obj, "core", corename));
  return obj;
}

/* Context-aware: the addon can be loaded by the main thread and by worker threads (its state is process-wide). */
NAPI_MODULE_INIT() {
  pthread_mutex_lock(&pool_lock);
  if (thread_count == 0) {
#ifdef HAVE_OPENBLAS
    thread_count = openblas_get_num_threads();
#endif
    if (thread_count < 1) thread_count = 1;
  }
  pthread_mutex_unlock(&pool_lock);
  napi_property_descriptor props[] = {
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default_method, NULL},
      {"epilogue", NULL, Epilogue, NULL, NULL, NULL, napi_default_method, NULL},
      {"layerNorm", NULL, LayerNorm, NULL, NULL, NULL, napi_default_method, NULL},
      {"layerNormGrad", NULL, LayerNormGrad, NULL, NULL, NULL, napi_default_method, NULL},
      {"quickGelu", NULL, QuickGelu, NULL, NULL, NULL, napi_default_method, NULL},
      {"quickGeluGrad", NULL, QuickGeluGrad, NULL, NULL, NULL, napi_default_method, NULL},
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_default_method, NULL},
      {"columnSum", NULL, ColumnSum, NULL, NULL, NULL, napi_default_method, NULL},
      {"attention", NULL, Attention, NULL, NULL, NULL, napi_default_method, NULL},
      {"attentionGrad", NULL, AttentionGrad, NULL, NULL, NULL, napi_default_method, NULL},
      {"adamw", NULL, AdamW, NULL, NULL, NULL, napi_default_method, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default_method, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default_method, NULL},
  };
  CHECK_NAPI(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

