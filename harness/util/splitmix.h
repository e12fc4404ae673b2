#pragma once
// splitmix64 (Steele, Lea, Flood 2014): a stateless 64-bit mix with a good avalanche. focalab
// derives every seed that must depend only on (seed, index) from it — the synthetic images and
// the training flips — so that data does not depend on the standard library's generators.

#include <cstdint>

namespace focalab::harness {
inline namespace util {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace util
}  // namespace focalab::harness
