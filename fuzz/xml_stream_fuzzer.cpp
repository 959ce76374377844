// Feeds arbitrary bytes to the restricted XML stream parser (issue 4: "A libFuzzer target covers
// the stream parser and stanza handling").
//
// Input layout: the first 8 bytes are a table of chunk sizes (each byte % 64 + 1, used in turn),
// and bit 0x80 of the first byte turns on a pause/resume after every event; the rest is the
// stream. Checked, besides the sanitizers:
//   1. The same bytes fed whole and fed in those chunks give the same events, and both fail or
//      neither does. The condition agrees unless one of them is found in a run of bytes that
//      chunking cuts short: policy-violation (a size limit noticed at a chunk boundary) and
//      bad-format (text between stanzas reported before expat reaches, say, a "]]>" in it that
//      is not-well-formed when the run is tokenized whole). Then the events agree as far as
//      both runs got.
//   2. Every stanza serializes into XML that parses back to an equal tree.
//   3. The parser never holds more than one stanza's worth of bytes plus one slice.
// Any crash, leak, hang, sanitizer report or trap is a bug.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"
#include "xml/stream_parser.hpp"

using namespace parley::xml;

namespace {

// Small limits so that the fuzzer reaches every bound quickly.
ParserLimits fuzz_limits() {
  ParserLimits limits;
  limits.max_stanza_bytes = 4096;
  limits.max_depth = 8;
  limits.max_attributes_per_element = 8;
  limits.max_elements_per_stanza = 64;
  limits.max_text_bytes = 512;
  limits.max_attribute_value_bytes = 256;
  limits.max_name_bytes = 128;
  limits.max_stanza_memory_bytes = 8192;
  return limits;
}

// Serializing may escape one byte into six (' -> &apos;) and declare a prefix per attribute, so
// the round trip is checked under limits that allow for that and nothing else.
ParserLimits round_trip_limits(const ParserLimits& original) {
  ParserLimits limits = original;
  limits.max_stanza_bytes = original.max_stanza_bytes * 8 + 4096;
  limits.max_attributes_per_element = original.max_attributes_per_element * 2 + 1;
  return limits;
}

class Recorder final : public StreamEvents {
 public:
  explicit Recorder(bool pause_after_every_event) : pause_(pause_after_every_event) {}

  AfterEvent on_stream_open(const StreamHeader& header) override {
    content_namespace_ = header.content_namespace;
    events.push_back("open " + header.content_namespace);
    return pause_ ? AfterEvent::pause : AfterEvent::continue_parsing;
  }

  AfterEvent on_stanza(Element stanza) override {
    const std::string serialized = serialize(stanza, {content_namespace_});
    const auto reparsed =
        parse_element(serialized, content_namespace_, round_trip_limits(fuzz_limits()));
    if (!reparsed || !(*reparsed == stanza)) __builtin_trap();
    events.push_back(serialized);
    return pause_ ? AfterEvent::pause : AfterEvent::continue_parsing;
  }

  void on_stream_close() override { events.push_back("close"); }

  std::vector<std::string> events;

 private:
  bool pause_;
  std::string content_namespace_;
};

struct Outcome {
  std::vector<std::string> events;
  std::optional<StreamErrorCondition> error;
};

Outcome run(std::string_view stream, const std::array<std::size_t, 8>* chunk_sizes, bool pause) {
  Recorder recorder(pause);
  StreamParserOptions options;
  options.limits = fuzz_limits();
  options.content_namespace.clear();  // accept any content namespace: more paths to explore
  StreamParser parser(recorder, options);
  const std::size_t bound = options.limits.max_stanza_bytes + StreamParser::kInputSliceBytes;

  Outcome outcome;
  std::size_t position = 0;
  // Each iteration consumes at least one byte.
  for (std::size_t turn = 0; position < stream.size() && !outcome.error; ++turn) {
    const std::size_t size =
        chunk_sizes ? (*chunk_sizes)[turn % chunk_sizes->size()] : stream.size();
    const std::string_view piece = stream.substr(position, size);
    position += piece.size();
    auto status = parser.feed(piece);
    // Pausing after every event: one resume per event at most, events are bounded by input.
    for (std::size_t resumes = 0;
         status && *status == FeedStatus::paused && resumes <= stream.size(); ++resumes) {
      status = parser.resume();
    }
    if (status && *status == FeedStatus::paused) __builtin_trap();  // resume() never finished
    if (parser.buffered_stanza_bytes() > bound) __builtin_trap();
    if (parser.stanza_memory_bytes() > options.limits.max_stanza_memory_bytes) __builtin_trap();
    if (!status) outcome.error = status.error().condition;
  }
  if (!outcome.error) {
    if (auto finished = parser.finish(); !finished) outcome.error = finished.error().condition;
  }
  outcome.events = std::move(recorder.events);
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kControlBytes = 8;
  if (size < kControlBytes) return 0;
  std::array<std::size_t, kControlBytes> chunk_sizes{};
  for (std::size_t i = 0; i < kControlBytes; ++i) chunk_sizes[i] = data[i] % 64 + 1;
  const bool pause = (data[0] & 0x80) != 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + kControlBytes,
                                size - kControlBytes);

  const Outcome whole = run(stream, nullptr, false);
  const Outcome chunked = run(stream, &chunk_sizes, pause);

  if (whole.error.has_value() != chunked.error.has_value()) __builtin_trap();
  const auto depends_on_chunking = [](const std::optional<StreamErrorCondition>& condition) {
    return condition == StreamErrorCondition::policy_violation ||
           condition == StreamErrorCondition::bad_format;
  };
  const bool chunking_matters =
      depends_on_chunking(whole.error) || depends_on_chunking(chunked.error);
  if (whole.error && *whole.error != *chunked.error && !chunking_matters) __builtin_trap();
  if (chunking_matters) {
    const std::size_t common = std::min(whole.events.size(), chunked.events.size());
    if (!std::equal(whole.events.begin(),
                    whole.events.begin() + static_cast<std::ptrdiff_t>(common),
                    chunked.events.begin())) {
      __builtin_trap();
    }
  } else if (whole.events != chunked.events) {
    __builtin_trap();
  }
  return 0;
}
