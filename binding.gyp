{
  "targets": [
    {
      "target_name": "tssandbox_native",
      "sources": [
        "native/addon.cc",
        "native/ptrace_platform.cc", "native/ptrace_wait.cc", "native/ptrace_inject.cc", "native/ptrace_hostfd.cc", "native/ptrace_spawn.cc", "native/ptrace_memory.cc",
        "native/host.cc", "native/host_file_read.cc",
        "native/gofer.cc",
        "native/gofer_server.cc",
        "native/gofer_confine.cc",
        "native/gofer_list.cc",
        "native/vdso_clock.cc",
        "native/sentry_confine.cc",
        "native/oci_console.cc", "native/oci_cgroup.cc", "native/oci_net.cc",
        "native/net_host.cc", "native/net_sock.cc",
        "native/systrap_platform.cc", "native/systrap_thread.cc", "native/systrap_place.cc", "native/systrap_wait.cc", "native/systrap_patch.cc", "native/systrap_batch.cc",
        "native/kvm/kvm_machine.cc", "native/kvm/kvm_pagetable.cc", "native/kvm/kvm_memory.cc", "native/kvm/kvm_fork.cc", "native/kvm/kvm_run.cc", "native/kvm/kvm_vcpu.cc", "native/kvm/kvm_decode.cc", "native/kvm/kvm_probe.cc", "native/kvm/kvm_napi.cc", "native/kvm/shim.S"
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
          "inputs": ["native/stub/stub.c", "native/stub/stub.ld", "native/stub/systrap.c", "native/stub/systrap_abi.h"],
          "outputs": ["<(PRODUCT_DIR)/tssandbox-stub"],
          "action": ["sh", "-c", "gcc -static -nostdlib -nostartfiles -fno-pic -no-pie -mcmodel=large -O2 -fno-stack-protector -fcf-protection=none -mgeneral-regs-only -Wl,-T,native/stub/stub.ld -Wl,--build-id=none -o <(PRODUCT_DIR)/tssandbox-stub native/stub/stub.c"]
        },
        {
          "action_name": "build_oci_fast",
          "inputs": ["native/oci_fast.c", "native/oci_pool.c", "native/oci_fast.h", "native/oci_cgroup_rm.h", "native/oci_fds.h"],
          "outputs": ["<(PRODUCT_DIR)/tssandbox-oci"],
          "action": ["sh", "-c", "gcc -O2 -Wall -o <(PRODUCT_DIR)/tssandbox-oci native/oci_fast.c native/oci_pool.c"]
        },
        {
          "action_name": "build_launch",
          "inputs": ["native/sentry_launch.cc", "native/launch_flags.h", "native/launch_cgroup.h", "native/launch_image.h", "native/launch_netns.h", "native/launch_platform.h", "native/gofer_server.cc", "native/gofer_confine.cc", "native/gofer_list.cc", "native/gofer_internal.h", "native/common.h", "native/keep_caps.h", "native/seccomp_bpf.h"],
          "outputs": ["<(PRODUCT_DIR)/tssandbox"],
          "action": ["sh", "-c", "g++ -std=c++17 -O2 -Wall -Wno-unused-parameter -Wno-unused-function -fno-exceptions -fno-rtti -static -DTSS_LAUNCHER '-DTSS_NODE_FALLBACK=\"<!(node -p \"process.env.npm_node_execpath || process.execPath\")\"' -o <(PRODUCT_DIR)/tssandbox native/sentry_launch.cc native/gofer_server.cc native/gofer_confine.cc native/gofer_list.cc"]
        },
        {
          "action_name": "build_vdso",
          "inputs": ["native/vdso/vdso.c", "native/vdso/vdso.lds", "native/vdso/vdso_data.h"],
          "outputs": ["<(PRODUCT_DIR)/tssandbox-vdso.so"],
          "action": ["sh", "-c", "gcc -O2 -fPIC -shared -nostdlib -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables -Wall -Wl,-T,native/vdso/vdso.lds -Wl,--hash-style=both -Wl,-soname,linux-vdso.so.1 -Wl,--no-undefined -Wl,-z,max-page-size=4096 -Wl,--build-id=none -o <(PRODUCT_DIR)/tssandbox-vdso.so native/vdso/vdso.c"]
        }
      ]
    }
  ]
}
