{
  "targets": [
    {
      "target_name": "pidfd",
      "sources": [
        "native/addon.cc",
        "native/errno.cc",
        "native/fd.cc",
        "native/pidfd.cc",
        "native/stat.cc",
        "native/wait.cc",
        "native/info.cc",
        "native/watch.cc",
        "native/handle.cc",
        "native/spawn.cc",
        "native/reaper.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GNU_SOURCE"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-fstack-protector-strong",
        "-fvisibility=hidden"
      ],
      "cflags_cc!": ["-std=gnu++17"],
      "conditions": [
        ["OS != 'linux'", { "type": "none" }]
      ]
    }
  ]
}
