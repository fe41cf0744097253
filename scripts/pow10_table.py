#!/usr/bin/env python3
"""The table of powers of ten of src/dtoa.c, made with exact integers.

For each j from -292 to 324, g(j) is the 128-bit integer with
2^127 <= g(j) < 2^128 and 10^j <= g(j) * 2^r(j) < 10^j + 2^r(j), where
r(j) = floor(log2(10^j)) - 127: 10^j rounded up to 128 significant bits
(exact where 10^j has no more than 128, i.e. 0 <= j <= 55). The shortest
double printing multiplies by it (Schubfach, Giulietti 2020).

It also checks, over every exponent a double can have, the integer
approximations of logarithms that src/dtoa.c uses.

    python3 scripts/pow10_table.py           prints the table's C lines
    python3 scripts/pow10_table.py --check   exits 1 unless src/dtoa.c holds them
"""
import math
import os
import sys

J_MIN, J_MAX = -292, 324


def floor_log2_pow10(j):
    """floor(log2(10^j)), exactly."""
    if j >= 0:
        return (10 ** j).bit_length() - 1
    # 10^-j is not a power of two for j < 0, so log2 of it is not an integer
    return -(10 ** -j).bit_length()


def g(j):
    r = floor_log2_pow10(j) - 127
    if j >= 0:
        if r <= 0:
            return 10 ** j << -r
        return -(-(10 ** j) // (1 << r))  # ceiling
    return -(-(1 << -r) // 10 ** -j)


def floor_log10(num, den):
    """floor(log10(num / den)) for positive integers, exactly: a float's
    guess, then corrected by comparing integers."""
    k = math.floor(math.log10(num) - math.log10(den))
    while not le_pow10(k, num, den):  # 10^k > num/den
        k -= 1
    while le_pow10(k + 1, num, den):
        k += 1
    return k


def le_pow10(k, num, den):
    """10^k <= num / den."""
    return 10 ** k * den <= num if k >= 0 else den <= num * 10 ** -k


def floor_log10_pow2(e):
    """floor(log10(2^e)), exactly."""
    return floor_log10(1 << max(e, 0), 1 << max(-e, 0))


def floor_log10_three_quarters_pow2(e):
    """floor(log10(3/4 * 2^e)), exactly."""
    return floor_log10(3 << max(e, 0), 4 << max(-e, 0))


def check_logs():
    for e in range(-1100, 1100):
        assert (e * 1262611) >> 22 == floor_log10_pow2(e), e
        assert (e * 1262611 - 524031) >> 22 == floor_log10_three_quarters_pow2(e), e
    for j in range(J_MIN, J_MAX + 1):
        assert (j * 1741647) >> 19 == floor_log2_pow10(j), j


def lines():
    out = []
    for j in range(J_MIN, J_MAX + 1):
        v = g(j)
        assert 1 << 127 <= v < 1 << 128, j
        out.append("    {0x%016XU, 0x%016XU}, /* 10^%d */" % (v >> 64, v & ((1 << 64) - 1), j))
    return out


def main():
    check_logs()
    table = lines()
    if sys.argv[1:] == ["--check"]:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "dtoa.c")
        with open(path) as f:
            source = f.read().splitlines()
        found = [line for line in source if line.startswith("    {0x") and "/* 10^" in line]
        if found != table:
            print("src/dtoa.c: the powers of ten differ from scripts/pow10_table.py's")
            return 1
        print("src/dtoa.c: %d powers of ten as computed" % len(table))
        return 0
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
