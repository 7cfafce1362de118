{
  "targets": [
    {
      "target_name": "xeno_posix",
      "sources": ["native/posix.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
