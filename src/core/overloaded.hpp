#pragma once
// Overloaded{[](const A&) {...}, [](const B&) {...}}: one callable from several lambdas, for
// std::visit over a std::variant.

namespace parley {

template <class... Handlers>
struct Overloaded : Handlers... {
  using Handlers::operator()...;
};
// C++20 deduces this for aggregates by itself; clang 16 (the fuzz preset's compiler) does not yet.
template <class... Handlers>
Overloaded(Handlers...) -> Overloaded<Handlers...>;

}  // namespace parley
