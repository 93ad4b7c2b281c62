# expect: {"status": 200, "result": {"error": "RuntimeError: can't start new thread", "stopped_below_cap": true, "started_some": true}}
# limits: {"timeout_s": 10}
# Start threads until the kernel refuses: threads count against the same
# pids limit, so Python raises RuntimeError("can't start new thread")
# before 32 tasks exist.
import threading


def main():
    stop = threading.Event()
    threads = []
    error = None
    while len(threads) < 1000:
        t = threading.Thread(target=stop.wait, daemon=True)
        try:
            t.start()
        except RuntimeError as e:
            error = "%s: %s" % (type(e).__name__, e)
            break
        threads.append(t)
    stop.set()
    for t in threads:
        t.join()
    return {"error": error, "stopped_below_cap": len(threads) + 1 <= 32, "started_some": len(threads) > 8}
