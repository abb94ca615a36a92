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

/* ---- the batch pool ------------------------------------------------------------------------------------------ */

typedef struct {
  int trans_a, trans_b, m, n, k;
  float beta;
  uint8_t *base;
  uint64_t a_off, b_off, c_off, stride_a, stride_b, stride_c;
  int batch;
} GemmJob;

static int thread_count = 1;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static int pool_workers = 0;       /* started workers */
static int pool_generation = 0;    /* bumped for every job */
static int pool_active = 0;        /* workers still inside the current job */
static int pool_wanted = 0;        /* workers that may join the current job */
static const GemmJob *pool_job = NULL;
static atomic_int pool_next;

static void run_item(const GemmJob *j, int i) {
  const float *a = (const float *)(j->base + j->a_off + (uint64_t)i * j->stride_a);
  const float *b = (const float *)(j->base + j->b_off + (uint64_t)i * j->stride_b);
  float *c = (float *)(j->base + j->c_off + (uint64_t)i * j->stride_c);
  cblas_sgemm(CblasRowMajor, j->trans_a ? CblasTrans : CblasNoTrans, j->trans_b ? CblasTrans : CblasNoTrans, j->m, j->n,
              j->k, 1.0f, a, j->trans_a ? j->m : j->k, b, j->trans_b ? j->k : j->n, j->beta, c, j->n);
}

static void drain(const GemmJob *j) {
  for (;;) {
    int i = atomic_fetch_add(&pool_next, 1);
    if (i >= j->batch) return;
    run_item(j, i);
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
    const GemmJob *j = pool_job;
    pthread_mutex_unlock(&pool_lock);
    drain(j);
    pthread_mutex_lock(&pool_lock);
    if (--pool_active == 0) pthread_cond_signal(&pool_done);
  }
  return NULL;
}

/* Run every item of the job, spread over up to thread_count threads (the caller included). */
static void run_pooled(const GemmJob *j) {
  int helpers = thread_count - 1;
  if (helpers > j->batch - 1) helpers = j->batch - 1;
  pthread_mutex_lock(&pool_lock);
  while (pool_workers < helpers) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker_main, (void *)(intptr_t)pool_workers) != 0) break;
    pthread_detach(t);
    pool_workers++;
  }
  if (helpers > pool_workers) helpers = pool_workers;
  atomic_store(&pool_next, 0);
  pool_job = j;
  pool_wanted = helpers;
  pool_active = helpers;
  pool_generation++;
  if (helpers > 0) pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  drain(j);
  pthread_mutex_lock(&pool_lock);
  while (pool_active > 0) pthread_cond_wait(&pool_done, &pool_lock);
  pool_job = NULL;
  pthread_mutex_unlock(&pool_lock);
}

static void set_threads(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  thread_count = n;
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
}

/* ---- argument helpers ---------------------------------------------------------------------------------------- */

/* The heap: a typed array over the wasm memory's buffer (ArrayBuffer or SharedArrayBuffer). */
static int heap_arg(napi_env env, napi_value value, uint8_t **base, size_t *bytes) {
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) {
    napi_throw_type_error(env, NULL, "blas addon: the heap must be a Uint8Array over the wasm memory");
    return 0;
  }
  napi_typedarray_type t;
  size_t length, offset;
  void *data;
  napi_value buffer;
  if (napi_get_typedarray_info(env, value, &t, &length, &data, &buffer, &offset) != napi_ok || t != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "blas addon: the heap must be a Uint8Array over the wasm memory");
    return 0;
  }
  *base = (uint8_t *)data;
  *bytes = length;
  return 1;
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
  if (j.batch > 1 && thread_count > 1 && (double)m * (double)n * (double)k <= SMALL_ITEM_MACS)
    run_pooled(&j);
  else
    for (int i = 0; i < j.batch; i++) run_item(&j, i);
  return NULL;
}

/* ---- epilogue: bias and activation in place ------------------------------------------------------------------ */

enum { ACT_LINEAR = 0, ACT_RELU, ACT_RELU6, ACT_ELU, ACT_SIGMOID, ACT_LEAKYRELU, ACT_PRELU };

/* epilogue(heap, cOff, rows, n, biasOff, biasLen, activation, alpha, preluOff, preluLen)
 * c[r, j] = act(c[r, j] + bias[j % biasLen]) over a [rows, n] block; biasLen 0 means no bias, 1 a scalar, n a row
 * vector. prelu weights likewise (preluLen 1 or n). */
static napi_value Epilogue(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 10, argv)) return NULL;
  uint8_t *base;
  size_t heap_bytes;
  if (!heap_arg(env, argv[0], &base, &heap_bytes)) return NULL;
  int64_t c_off, rows, n, bias_off, bias_len, act, prelu_off, prelu_len;
  double alpha;
  if (!int_arg(env, argv[1], &c_off) || !int_arg(env, argv[2], &rows) || !int_arg(env, argv[3], &n) ||
      !int_arg(env, argv[4], &bias_off) || !int_arg(env, argv[5], &bias_len) || !int_arg(env, argv[6], &act) ||
      napi_get_value_double(env, argv[7], &alpha) != napi_ok || !int_arg(env, argv[8], &prelu_off) ||
      !int_arg(env, argv[9], &prelu_len))
    return NULL;
  if (rows < 0 || n <= 0 || c_off < 0 || act < ACT_LINEAR || act > ACT_PRELU ||
      (bias_len != 0 && bias_len != 1 && bias_len != n) ||
      (act == ACT_PRELU && prelu_len != 1 && prelu_len != n)) {
    napi_throw_range_error(env, NULL, "blas addon: bad epilogue arguments");
    return NULL;
  }
  if (!in_heap(env, heap_bytes, (uint64_t)c_off, 0, 1, (uint64_t)rows * (uint64_t)n * 4)) return NULL;
  if (bias_len && (bias_off < 0 || !in_heap(env, heap_bytes, (uint64_t)bias_off, 0, 1, (uint64_t)bias_len * 4)))
    return NULL;
  if (act == ACT_PRELU && (prelu_off < 0 || !in_heap(env, heap_bytes, (uint64_t)prelu_off, 0, 1, (uint64_t)prelu_len * 4)))
    return NULL;
  float *c = (float *)(base + c_off);
  const float *bias = bias_len ? (const float *)(base + bias_off) : NULL;
  const float *prelu = act == ACT_PRELU ? (const float *)(base + prelu_off) : NULL;
  const float al = (float)alpha;
  for (int64_t r = 0; r < rows; r++) {
    float *row = c + r * n;
    for (int64_t i = 0; i < n; i++) {
      float x = row[i];
      if (bias) x += bias_len == 1 ? bias[0] : bias[i];
      switch (act) {
        case ACT_RELU: x = x > 0 ? x : 0; break;
        case ACT_RELU6: x = x < 0 ? 0 : (x > 6 ? 6 : x); break;
        case ACT_ELU: x = x >= 0 ? x : expf(x) - 1; break;
        case ACT_SIGMOID: x = 1 / (1 + expf(-x)); break;
        case ACT_LEAKYRELU: x = x >= 0 ? x : al * x; break;
        case ACT_PRELU: x = x >= 0 ? x : (prelu_len == 1 ? prelu[0] : prelu[i]) * x; break;
        default: break;
      }
      row[i] = x;
    }
  }
  return NULL;
}

/* ---- threads and identity ------------------------------------------------------------------------------------ */

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

static napi_value Init(napi_env env, napi_value exports) {
#ifdef HAVE_OPENBLAS
  thread_count = openblas_get_num_threads();
#endif
  napi_property_descriptor props[] = {
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default, NULL},
      {"epilogue", NULL, Epilogue, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK_NAPI(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
