# Sums squares, printing every 20000 steps: a Python loop whose output shows where it is.
total = 0
for i in range(6000000):
    total += i * i
    if i % 20000 == 0:
        print(i, total, flush=True)
print("done", total)
