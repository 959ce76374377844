#include "client/stream_management.hpp"

#include <charconv>

#include "xmpp/stanza.hpp"

namespace parley::client {
namespace {

constexpr std::uint64_t kCountModulus = std::uint64_t{1} << 32;

std::optional<std::uint32_t> parse_count(const std::string* text) {
  if (text == nullptr || text->empty()) return std::nullopt;
  std::uint32_t value = 0;
  const char* end = text->data() + text->size();
  const auto [next, error] = std::from_chars(text->data(), end, value);
  if (error != std::errc() || next != end) return std::nullopt;
  return value;
}

}  // namespace

bool offers_stream_management(const xml::Element& features) {
  return features.first_child(kStreamManagementNamespace, "sm") != nullptr;
}

bool is_stream_management_element(const xml::Element& element) {
  return element.name().namespace_uri == kStreamManagementNamespace;
}

const char* to_string(StreamManagementState state) {
  switch (state) {
    case StreamManagementState::off:
      return "off";
    case StreamManagementState::requested:
      return "requested";
    case StreamManagementState::enabled:
      return "enabled";
    case StreamManagementState::failed:
      return "failed";
  }
  return "off";
}

xml::Element StreamManagement::enable_request(Resumption resumption) {
  state_ = StreamManagementState::requested;
  counting_sent_ = true;
  xml::Element enable(kStreamManagementNamespace, "enable");
  if (resumption == Resumption::requested) enable.set_attribute("resume", "true");
  return enable;
}

xml::Element StreamManagement::acknowledgement_request() {
  return xml::Element(kStreamManagementNamespace, "r");
}

xml::Element StreamManagement::acknowledgement() const {
  xml::Element a(kStreamManagementNamespace, "a");
  a.set_attribute("h", std::to_string(received_ % kCountModulus));
  return a;
}

void StreamManagement::on_stanza_sent(const xml::Element& stanza) {
  if (!counting_sent_ || state_ == StreamManagementState::failed) return;
  ++sent_;
  unacknowledged_.push_back(Sent{sent_, stanza});
  // Forgetting the oldest keeps memory bounded; the counts stay exact.
  while (unacknowledged_.size() > max_unacknowledged_) unacknowledged_.pop_front();
}

void StreamManagement::on_stanza_received() {
  if (state_ == StreamManagementState::enabled) ++received_;
}

Result<std::optional<xml::Element>> StreamManagement::handle(const xml::Element& element) {
  const std::string& name = element.name().local_name;
  if (name == "enabled") {
    if (state_ != StreamManagementState::requested) return std::optional<xml::Element>();
    state_ = StreamManagementState::enabled;
    const std::string* resume = element.attribute("resume");
    const std::string* id = element.attribute("id");
    // The id only goes back to the server; still, an absurd one is not kept.
    if (resume && (*resume == "true" || *resume == "1") && id && !id->empty() && id->size() <= 1024)
      resumption_id_ = *id;
    return std::optional<xml::Element>();
  }
  if (name == "failed") {
    if (state_ == StreamManagementState::requested) {
      state_ = StreamManagementState::failed;
      counting_sent_ = false;
      unacknowledged_.clear();
    }
    return std::optional<xml::Element>();
  }
  if (name == "r") {
    if (state_ != StreamManagementState::enabled) return std::optional<xml::Element>();
    return std::optional<xml::Element>(acknowledgement());
  }
  if (name == "a") {
    if (state_ != StreamManagementState::enabled) return std::optional<xml::Element>();
    const auto h = parse_count(element.attribute("h"));
    if (!h) return fail(Error::parse("the server's stream management <a/> has no valid h"));
    if (auto acknowledged = acknowledge(*h); !acknowledged) return fail(acknowledged.error());
    return std::optional<xml::Element>();
  }
  return std::optional<xml::Element>();  // <resumed/> and others: nothing asked for them
}

Result<void> StreamManagement::acknowledge(std::uint32_t h) {
  const std::uint64_t step = (h + kCountModulus - acknowledged_ % kCountModulus) % kCountModulus;
  if (step > sent_ - acknowledged_) {
    return fail(Error::parse("the server acknowledged " + std::to_string(step) +
                             " more stanzas than it was sent (h attribute too high)"));
  }
  acknowledged_ += step;
  while (!unacknowledged_.empty() && unacknowledged_.front().sequence <= acknowledged_)
    unacknowledged_.pop_front();
  return {};
}

Result<std::vector<xml::Element>> StreamManagement::resumed(std::uint32_t h) {
  if (auto acknowledged = acknowledge(h); !acknowledged) return fail(acknowledged.error());
  std::vector<xml::Element> again;
  for (auto& entry : unacknowledged_) again.push_back(std::move(entry.stanza));
  unacknowledged_.clear();
  acknowledged_ = sent_;
  state_ = StreamManagementState::enabled;
  counting_sent_ = true;
  return again;
}

std::vector<xml::Element> StreamManagement::take_unacknowledged_messages() {
  std::vector<xml::Element> messages;
  for (auto& entry : unacknowledged_) {
    if (xmpp::is_stanza(entry.stanza, "message")) messages.push_back(std::move(entry.stanza));
  }
  unacknowledged_.clear();
  acknowledged_ = sent_;
  return messages;
}

}  // namespace parley::client
