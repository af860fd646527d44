# Prints CLOCK_MONOTONIC (through the vDSO) and a count: a restored sandbox's clock must not go back.
import time
for i in range(60):
    print(i, "%.6f" % time.monotonic(), flush=True)
    time.sleep(0.05)
