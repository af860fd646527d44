{
  "targets": [
    {
      "target_name": "tssandbox_native",
      "sources": [
        "native/addon.cc",
        "native/ptrace_platform.cc",
        "native/host.cc",
        "native/gofer.cc",
        "native/gofer_server.cc",
        "native/oci_console.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wno-unused-parameter"]
    },
    {
      "target_name": "tssandbox_stub",
      "type": "none",
      "actions": [
        {
          "action_name": "build_stub",
          "inputs": ["native/stub/stub.c", "native/stub/stub.ld"],
          "outputs": ["<(PRODUCT_DIR)/tssandbox-stub"],
          "action": ["sh", "-c", "gcc -static -nostdlib -nostartfiles -fno-pic -no-pie -mcmodel=large -O2 -fno-stack-protector -fcf-protection=none -Wl,-T,native/stub/stub.ld -Wl,--build-id=none -o <(PRODUCT_DIR)/tssandbox-stub native/stub/stub.c"]
        }
      ]
    }
  ]
}
