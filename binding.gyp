{
  "targets": [
    {
      "target_name": "xeno_posix",
      "sources": ["native/posix.c", "native/ingest.c", "native/ingest-core.c", "native/ingest-thread.c", "native/blake3.c", "native/zstd-async.c"],
      "cflags": ["-O3", "-Wall"],
      "libraries": ["-lzstd"]
    }
  ]
}
