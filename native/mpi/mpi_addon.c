/* A thin N-API addon over libmpi (OpenMPI or MPICH): the collectives clip-bench needs for data-parallel
 * training. Calls are synchronous (the training step waits for them anyway) and operate on typed arrays
 * in place where MPI allows it. Built at install time by native/mpi/build.sh when an MPI compiler exists. */
#include <dlfcn.h>
#include <mpi.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>

#define CHECK_NAPI(call)                                                       \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, NULL, "mpi addon: N-API call failed: " #call);     \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static int initialized_here = 0;

static napi_value throw_mpi(napi_env env, const char *what, int code) {
  char msg[MPI_MAX_ERROR_STRING + 128];
  char err[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, err, &len);
  snprintf(msg, sizeof msg, "MPI %s failed: %s", what, err);
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int ensure_init(napi_env env) {
  int flag = 0;
  MPI_Initialized(&flag);
  if (flag) return 1;
  napi_throw_error(env, NULL, "MPI is not initialised: call init() first");
  return 0;
}

/* Typed-array argument: data pointer, element count, and MPI datatype for float32/float64/int32/uint8. */
static int typed_arg(napi_env env, napi_value value, void **data, size_t *length, MPI_Datatype *type) {
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) { napi_throw_type_error(env, NULL, "expected a typed array"); return 0; }
  napi_typedarray_type t;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &t, length, data, &buffer, &offset) != napi_ok) return 0;
  switch (t) {
    case napi_float32_array: *type = MPI_FLOAT; break;
    case napi_float64_array: *type = MPI_DOUBLE; break;
    case napi_int32_array: *type = MPI_INT; break;
    case napi_uint8_array: *type = MPI_UNSIGNED_CHAR; break;
    default: napi_throw_type_error(env, NULL, "supported typed arrays: Float32Array, Float64Array, Int32Array, Uint8Array"); return 0;
  }
  return 1;
}

static napi_value rank_size_object(napi_env env) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  napi_value obj, r, s;
  CHECK_NAPI(napi_create_object(env, &obj));
  CHECK_NAPI(napi_create_int32(env, rank, &r));
  CHECK_NAPI(napi_create_int32(env, size, &s));
  CHECK_NAPI(napi_set_named_property(env, obj, "rank", r));
  CHECK_NAPI(napi_set_named_property(env, obj, "size", s));
  return obj;
}

/* init(): MPI_Init_thread (FUNNELED). libmpi is re-opened RTLD_GLOBAL first so OpenMPI's dlopen'ed
 * components can resolve its symbols (the addon itself is loaded RTLD_LOCAL by Node). */
static napi_value Init(napi_env env, napi_callback_info info) {
  int flag = 0;
  MPI_Initialized(&flag);
  if (!flag) {
    const char *libs[] = {"libmpi.so.40", "libmpi.so.12", "libmpi.so", NULL};
    for (int i = 0; libs[i]; i++) if (dlopen(libs[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) || dlopen(libs[i], RTLD_NOW | RTLD_GLOBAL)) break;
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return throw_mpi(env, "init", rc);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    initialized_here = 1;
  }
  return rank_size_object(env);
}

static napi_value Finalize(napi_env env, napi_callback_info info) {
  int flag = 0, finalized = 0;
  MPI_Initialized(&flag);
  MPI_Finalized(&finalized);
  if (flag && !finalized) MPI_Finalize();
  return NULL;
}

/* The (typedArray, int) calls: the array (in place), its MPI type and length, and the optional int (default 0).
 * Returns 0 (with a JS exception pending) when MPI is not initialised or the array is not a supported type. */
static int array_and_int(napi_env env, napi_callback_info info, napi_value *array, void **data, size_t *n, MPI_Datatype *type, int *value) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) { napi_throw_error(env, NULL, "mpi addon: bad arguments"); return 0; }
  if (!ensure_init(env)) return 0;
  if (argc < 1 || !typed_arg(env, argv[0], data, n, type)) return 0;
  *value = 0;
  if (argc > 1) napi_get_value_int32(env, argv[1], value);
  *array = argv[0];
  return 1;
}

/* allreduce(typedArray, op): in place; op 0 = sum, 1 = max, 2 = min. */
static napi_value Allreduce(napi_env env, napi_callback_info info) {
  napi_value array; void *data; size_t n; MPI_Datatype type; int op_code;
  if (!array_and_int(env, info, &array, &data, &n, &type, &op_code)) return NULL;
  MPI_Op op = op_code == 1 ? MPI_MAX : op_code == 2 ? MPI_MIN : MPI_SUM;
  int rc = MPI_Allreduce(MPI_IN_PLACE, data, (int)n, type, op, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return throw_mpi(env, "allreduce", rc);
  return array;
}

/* allgather(local, out): out.length == local.length * size, same type; rank r's data lands at r*local.length. */
static napi_value Allgather(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!ensure_init(env)) return NULL;
  void *in, *out; size_t n_in, n_out; MPI_Datatype t_in, t_out;
  if (!typed_arg(env, argv[0], &in, &n_in, &t_in) || !typed_arg(env, argv[1], &out, &n_out, &t_out)) return NULL;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (t_in != t_out || n_out != n_in * (size_t)size) { napi_throw_range_error(env, NULL, "allgather: output must have the input's type and length x world size"); return NULL; }
  int rc = MPI_Allgather(in, (int)n_in, t_in, out, (int)n_in, t_out, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return throw_mpi(env, "allgather", rc);
  return argv[1];
}

/* broadcast(typedArray, root): in place. */
static napi_value Broadcast(napi_env env, napi_callback_info info) {
  napi_value array; void *data; size_t n; MPI_Datatype type; int root;
  if (!array_and_int(env, info, &array, &data, &n, &type, &root)) return NULL;
  int rc = MPI_Bcast(data, (int)n, type, root, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return throw_mpi(env, "broadcast", rc);
  return array;
}

static napi_value Barrier(napi_env env, napi_callback_info info) {
  if (!ensure_init(env)) return NULL;
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return throw_mpi(env, "barrier", rc);
  return NULL;
}

/* abort(code): stop every rank of the job (used when one rank hits a fatal error). */
static napi_value Abort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int code = 1;
  if (argc > 0) napi_get_value_int32(env, argv[0], &code);
  MPI_Abort(MPI_COMM_WORLD, code);
  return NULL;
}

static napi_value Version(napi_env env, napi_callback_info info) {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  napi_value out;
  CHECK_NAPI(napi_create_string_utf8(env, version, (size_t)len, &out));
  return out;
}

static napi_value Module(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"init", NULL, Init, NULL, NULL, NULL, napi_default, NULL},
    {"finalize", NULL, Finalize, NULL, NULL, NULL, napi_default, NULL},
    {"allreduce", NULL, Allreduce, NULL, NULL, NULL, napi_default, NULL},
    {"allgather", NULL, Allgather, NULL, NULL, NULL, napi_default, NULL},
    {"broadcast", NULL, Broadcast, NULL, NULL, NULL, napi_default, NULL},
    {"barrier", NULL, Barrier, NULL, NULL, NULL, napi_default, NULL},
    {"abort", NULL, Abort, NULL, NULL, NULL, napi_default, NULL},
    {"version", NULL, Version, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Module)
