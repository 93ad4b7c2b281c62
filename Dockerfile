# warmjail: untrusted Python over HTTP, sandboxed children of a warm zygote.
#
#   docker build -t warmjail .
#   docker run -d -p 8080:8080 --cap-drop ALL \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --security-opt systempaths=unconfined -e WARMJAIL_API_TOKEN=... warmjail
#   docker run --rm <the same settings> warmjail check   (any subcommand: the
#                                            binary is the ENTRYPOINT)
#
# README.md ("Deploying") says what each setting is for. Every step below is
# a script that CI also runs: scripts/install-deps + scripts/build (the test
# build) and scripts/install-runtime-deps (run by scripts/image-check in a
# debootstrapped bookworm root, together with `warmjail check` and /execute).

# --- build: the same packages and CMake build as CI --------------------------
FROM debian:bookworm-slim AS build
WORKDIR /src
# The packages first, in a layer of their own: a change to the sources does
# not install them again.
COPY scripts/install-deps scripts/
RUN scripts/install-deps run
COPY . .
RUN BUILD_TESTING=OFF scripts/build && strip --strip-debug build/warmjail

# --- runtime: the binary and its runtime packages, nothing else ---------------
FROM debian:bookworm-slim
COPY scripts/install-runtime-deps /tmp/install-runtime-deps
RUN /tmp/install-runtime-deps && rm /tmp/install-runtime-deps
COPY --from=build /src/build/warmjail /usr/local/bin/warmjail

# Unprivileged: the jail builds each sandbox in a user namespace, and memory
# is limited by RLIMIT_AS above the zygote's footprint (no cgroup needed).
# Run with --user 0 only where the container gets a writable, delegated
# cgroup v2 subtree and per-sandbox cgroup memory limits are wanted.
USER 65534:65534
ENV PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3.11", "-c", "import os,urllib.request;urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT','8080'),timeout=4)"]
STOPSIGNAL SIGTERM
# The binary is the entrypoint and `serve` the default command, so arguments
# given to the container (`docker run IMAGE serve --allow-degraded`,
# `docker run IMAGE check`, Kubernetes' `args`) are warmjail's. tini (from
# scripts/install-runtime-deps) is PID 1: processes orphaned when a zygote
# dies or is recycled (its workers, jailer, the sandboxes' inits) are
# re-parented to PID 1, and warmjail waits only for its own zygotes; tini
# reaps them and passes SIGTERM on to warmjail.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/warmjail"]
CMD ["serve"]
