#include "chat_screen.hpp"

// Function-like macros such as move() and erase() would collide with the standard library.
#define NCURSES_NOMACROS 1
#include <curses.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <string>
#include <vector>

#include "client/text_prompt.hpp"
#include "common.hpp"

namespace parley::app {
namespace {

constexpr int kMinColumns = 40;
constexpr int kMinRows = 10;
constexpr std::size_t kMaxInputCharacters = client::kMaxBodyBytes / 4;
constexpr int kPollMilliseconds = 1000;

enum ColorPair : short { kProblem = 1, kOutgoing = 2, kNotice = 3, kDialog = 4 };

std::string utf8_from(const std::wstring& text, std::size_t begin = 0,
                      std::size_t end = std::wstring::npos) {
  std::string out;
  end = std::min(end, text.size());
  for (std::size_t i = begin; i < end; ++i) {
    const auto c = static_cast<std::uint32_t>(text[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::string clock_text(std::int64_t when, bool with_date) {
  const std::time_t time = static_cast<std::time_t>(when);
  std::tm local{};
  ::localtime_r(&time, &local);
  char text[32];
  std::strftime(text, sizeof text, with_date ? "%m-%d %H:%M" : "%H:%M:%S", &local);
  return text;
}

// Draws `text` at (y, x), cut to `columns`, then pads with spaces to `columns` when asked.
void draw_text(int y, int x, std::string_view text, int columns, attr_t attributes = A_NORMAL,
               bool pad = false) {
  if (columns <= 0) return;
  const std::string fitted = client::fit_to_width(text, static_cast<std::size_t>(columns));
  wattron(stdscr, attributes);
  mvwaddstr(stdscr, y, x, fitted.c_str());
  if (pad) {
    const auto used = static_cast<int>(client::display_width(fitted));
    for (int i = used; i < columns; ++i) waddch(stdscr, ' ');
  }
  wattroff(stdscr, attributes);
}

attr_t color(short pair) {
  return has_colors() ? static_cast<attr_t>(COLOR_PAIR(pair)) : A_NORMAL;
}

class ChatScreen {
 public:
  ChatScreen(client::ChatModel& model, client::ChatSession& session, int wake_fd)
      : model_(model), session_(session), wake_fd_(wake_fd) {
    initscr();
    raw();  // Ctrl-C arrives as a key: quitting leaves rooms and closes the stream
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    if (has_colors()) {
      start_color();
      use_default_colors();
      init_pair(kProblem, COLOR_RED, -1);
      init_pair(kOutgoing, COLOR_CYAN, -1);
      init_pair(kNotice, COLOR_YELLOW, -1);
      init_pair(kDialog, COLOR_WHITE, COLOR_BLUE);
    }
  }
  ~ChatScreen() { endwin(); }
  ChatScreen(const ChatScreen&) = delete;
  ChatScreen& operator=(const ChatScreen&) = delete;

  int run();
  // Shown while the session leaves rooms and closes the stream.
  void show_closing();

 private:
  void apply_events();
  void read_keys();
  void key(wint_t character, bool function_key);
  void submit();
  void draw();
  void draw_panes(int rows, int columns, int left_width);
  void draw_conversation(int top, int left, int rows, int columns);
  void draw_box(const std::vector<std::string>& lines, const std::string& title,
                const std::string& footer, attr_t attributes);
  void draw_input(int row, int columns);

  client::ChatModel& model_;
  client::ChatSession& session_;
  int wake_fd_;
  std::wstring input_;
  std::size_t cursor_ = 0;
  std::size_t box_scroll_ = 0;
};

int ChatScreen::run() {
  for (;;) {
    apply_events();
    if (model_.quit_requested() || stop_requested()) return kExitOk;
    draw();
    pollfd waiting[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int ready = ::poll(waiting, 2, kPollMilliseconds);
    if (ready < 0 && errno != EINTR) return kExitFailed;
    if (ready > 0 && (waiting[1].revents & POLLIN) != 0) {
      char drained[256];
      while (::read(wake_fd_, drained, sizeof drained) > 0) {
      }
    }
    if (ready > 0 && (waiting[0].revents & (POLLHUP | POLLERR)) != 0) return kExitFailed;
    read_keys();
  }
}

void ChatScreen::show_closing() {
  werase(stdscr);
  draw_text(0, 0, "Leaving rooms and closing the connection...", COLS);
  wrefresh(stdscr);
}

void ChatScreen::apply_events() {
  const bool had_question = model_.question().has_value();
  for (auto& event : session_.take_events()) model_.apply(std::move(event));
  if (!had_question && model_.question()) box_scroll_ = 0;
}

void ChatScreen::read_keys() {
  // Bounded per turn so that a flood of pasted text still lets events through.
  for (int i = 0; i < 4096; ++i) {
    wint_t character = 0;
    const int kind = wget_wch(stdscr, &character);
    if (kind == ERR) return;
    key(character, kind == KEY_CODE_YES);
    if (model_.quit_requested()) return;
  }
}

void ChatScreen::key(wint_t character, bool function_key) {
  constexpr wint_t kEscape = 27;
  constexpr wint_t kCtrlA = 1, kCtrlC = 3, kCtrlE = 5, kCtrlU = 21, kBackspace = 127;

  if (!function_key && character == kCtrlC) {
    model_.submit("/quit", 0);
    return;
  }
  if (model_.question()) {
    if (function_key) {
      if (character == KEY_DOWN || character == KEY_NPAGE) ++box_scroll_;
      if ((character == KEY_UP || character == KEY_PPAGE) && box_scroll_ > 0) --box_scroll_;
      return;
    }
    switch (character) {
      case L'o':
      case L'O':
        model_.answer_question(client::PromptAnswer::accept_once);
        break;
      case L'a':
      case L'A':
        model_.answer_question(client::PromptAnswer::accept_always);
        break;
      case L'd':
      case L'D':
      case kEscape:
        model_.answer_question(client::PromptAnswer::decline);
        break;
      default:
        break;
    }
    return;
  }
  if (model_.info()) {
    if (function_key) {
      if (character == KEY_DOWN || character == KEY_NPAGE) ++box_scroll_;
      if ((character == KEY_UP || character == KEY_PPAGE) && box_scroll_ > 0) --box_scroll_;
      if (character == KEY_ENTER) model_.close_info();
      return;
    }
    if (character == kEscape || character == L'\r' || character == L'\n' || character == L'q')
      model_.close_info();
    return;
  }

  if (function_key) {
    switch (character) {
      case KEY_ENTER:
        submit();
        break;
      case KEY_BACKSPACE:
        if (cursor_ > 0) input_.erase(--cursor_, 1);
        break;
      case KEY_DC:
        if (cursor_ < input_.size()) input_.erase(cursor_, 1);
        break;
      case KEY_LEFT:
        if (cursor_ > 0) --cursor_;
        break;
      case KEY_RIGHT:
        if (cursor_ < input_.size()) ++cursor_;
        break;
      case KEY_HOME:
        cursor_ = 0;
        break;
      case KEY_END:
        cursor_ = input_.size();
        break;
      case KEY_BTAB:
        model_.select_previous();
        break;
      case KEY_PPAGE:
        model_.scroll(std::max(1, LINES / 2));
        break;
      case KEY_NPAGE:
        model_.scroll(-std::max(1, LINES / 2));
        break;
      case KEY_F(1):
        model_.submit("/help", 0);
        box_scroll_ = 0;
        break;
      case KEY_F(2):
        model_.submit("/security", 0);
        box_scroll_ = 0;
        break;
      default:
        break;  // KEY_RESIZE and others: the next draw adapts
    }
    return;
  }
  switch (character) {
    case L'\r':
    case L'\n':
      submit();
      return;
    case L'\t':
      model_.select_next();
      return;
    case kBackspace:
    case 8:
      if (cursor_ > 0) input_.erase(--cursor_, 1);
      return;
    case kCtrlU:
      input_.clear();
      cursor_ = 0;
      return;
    case kCtrlA:
      cursor_ = 0;
      return;
    case kCtrlE:
      cursor_ = input_.size();
      return;
    case kEscape:
      return;
    default:
      break;
  }
  if (character < 0x20 || character == 0x7F) return;  // other control keys
  if (character >= 0xD800 && character <= 0xDFFF) return;
  if (input_.size() >= kMaxInputCharacters) return;
  input_.insert(cursor_, 1, static_cast<wchar_t>(character));
  ++cursor_;
}

void ChatScreen::submit() {
  const std::string line = utf8_from(input_);
  input_.clear();
  cursor_ = 0;
  box_scroll_ = 0;
  auto outcome = model_.submit(line, static_cast<std::int64_t>(std::time(nullptr)));
  if (outcome.command) session_.post(std::move(*outcome.command));
}

void ChatScreen::draw() {
  werase(stdscr);
  const int rows = LINES;
  const int columns = COLS;
  if (rows < kMinRows || columns < kMinColumns) {
    draw_text(0, 0, "parley: the terminal is too small (at least 40x10)", columns);
    wrefresh(stdscr);
    return;
  }
  const int left_width = std::clamp(columns / 4, 18, 36);
  draw_panes(rows, columns, left_width);
  draw_text(rows - 2, 0, " " + model_.status_line(), columns, A_REVERSE, true);
  if (model_.question()) {
    std::vector<std::string> lines = client::certificate_prompt_lines(model_.question()->details);
    draw_box(lines, " Untrusted certificate ", "[o] accept once   [a] accept always   [d] decline",
             color(kDialog) | A_BOLD);
  } else if (model_.info()) {
    draw_box(*model_.info(), " parley ", "Esc or Enter: close", color(kDialog));
  }
  draw_input(rows - 1, columns);
  wrefresh(stdscr);
}

void ChatScreen::draw_panes(int rows, int columns, int left_width) {
  const int body_rows = rows - 3;  // header, then panes, then status and input
  const client::Conversation& shown = model_.current();
  draw_text(0, 0, " Conversations", left_width, A_BOLD | A_REVERSE, true);
  std::string title = " " + shown.title;
  if (shown.kind == client::ConversationKind::room) {
    title += shown.joined
                 ? "  (" + std::to_string(shown.occupants) + " here, you are " + shown.nick + ")"
                 : "  (not in the room)";
    if (!shown.subject.empty()) title += "  " + shown.subject;
  } else if (shown.kind == client::ConversationKind::chat) {
    const auto contact = model_.contacts().find(shown.key);
    if (contact != model_.contacts().end()) title += "  (" + contact->second.presence() + ")";
  }
  draw_text(0, left_width, "|" + title, columns - left_width, A_BOLD | A_REVERSE, true);

  const auto entries = model_.pane_entries();
  for (int row = 0; row < body_rows && row < static_cast<int>(entries.size()); ++row) {
    const auto& entry = entries[static_cast<std::size_t>(row)];
    const bool selected = entry.kind == shown.kind && entry.key == shown.key;
    std::string label = " " + entry.label;
    if (entry.unread > 0) label += " [" + std::to_string(entry.unread) + "]";
    draw_text(1 + row, 0, label, left_width, selected ? A_REVERSE : A_NORMAL, selected);
  }
  for (int row = 1; row <= body_rows; ++row) mvwaddch(stdscr, row, left_width, ACS_VLINE);
  draw_conversation(1, left_width + 2, body_rows, columns - left_width - 2);
}

void ChatScreen::draw_conversation(int top, int left, int rows, int columns) {
  if (columns <= 10 || rows <= 0) return;
  const client::Conversation& shown = model_.current();
  struct Row {
    std::string text;
    attr_t attributes;
  };
  std::vector<Row> rendered;  // bottom-up
  const std::size_t skip = model_.scroll_offset();
  std::size_t index = shown.lines.size();
  std::size_t skipped = 0;
  while (index > 0 && static_cast<int>(rendered.size()) < rows) {
    const client::ConversationLine& line = shown.lines[--index];
    if (skipped < skip) {
      ++skipped;
      continue;
    }
    std::string prefix = clock_text(line.time, line.delayed) + " ";
    attr_t attributes = A_NORMAL;
    switch (line.kind) {
      case client::LineKind::incoming:
        prefix += line.who + ": ";
        break;
      case client::LineKind::outgoing:
        prefix += line.who + ": ";
        attributes = color(kOutgoing);
        break;
      case client::LineKind::notice:
        attributes = color(kNotice);
        break;
      case client::LineKind::problem:
        attributes = color(kProblem) | A_BOLD;
        break;
    }
    auto wrapped = client::wrap_to_width(prefix + line.text, static_cast<std::size_t>(columns));
    for (auto it = wrapped.rbegin(); it != wrapped.rend(); ++it)
      rendered.push_back(Row{std::move(*it), attributes});
  }
  const int used = std::min(rows, static_cast<int>(rendered.size()));
  for (int i = 0; i < used; ++i) {
    const Row& row = rendered[static_cast<std::size_t>(i)];
    draw_text(top + rows - 1 - i, left, row.text, columns, row.attributes);
  }
  if (skip > 0) draw_text(top, left + columns - 12, "[scrolled]", 12, A_REVERSE);
}

void ChatScreen::draw_box(const std::vector<std::string>& lines, const std::string& title,
                          const std::string& footer, attr_t attributes) {
  const int width = std::min(COLS - 4, 124);
  const int inner = width - 4;
  std::vector<std::string> wrapped;
  for (const auto& line : lines) {
    if (line.empty()) {
      wrapped.emplace_back();
      continue;
    }
    for (auto& piece : client::wrap_to_width(line, static_cast<std::size_t>(inner)))
      wrapped.push_back(std::move(piece));
  }
  const int max_body = std::max(1, LINES - 8);
  const int body = std::min(static_cast<int>(wrapped.size()), max_body);
  const std::size_t max_scroll = wrapped.size() - static_cast<std::size_t>(body);
  box_scroll_ = std::min(box_scroll_, max_scroll);
  const int height = body + 4;
  const int top = std::max(0, (LINES - 2 - height) / 2);
  const int left = (COLS - width) / 2;
  for (int row = 0; row < height; ++row) draw_text(top + row, left, "", width, attributes, true);
  wattron(stdscr, attributes);
  mvwaddch(stdscr, top, left, ACS_ULCORNER);
  mvwaddch(stdscr, top, left + width - 1, ACS_URCORNER);
  mvwaddch(stdscr, top + height - 1, left, ACS_LLCORNER);
  mvwaddch(stdscr, top + height - 1, left + width - 1, ACS_LRCORNER);
  for (int x = left + 1; x < left + width - 1; ++x) {
    mvwaddch(stdscr, top, x, ACS_HLINE);
    mvwaddch(stdscr, top + height - 1, x, ACS_HLINE);
  }
  for (int y = top + 1; y < top + height - 1; ++y) {
    mvwaddch(stdscr, y, left, ACS_VLINE);
    mvwaddch(stdscr, y, left + width - 1, ACS_VLINE);
  }
  wattroff(stdscr, attributes);
  draw_text(top, left + 2, title, width - 4, attributes);
  for (int row = 0; row < body; ++row) {
    draw_text(top + 1 + row, left + 2, wrapped[box_scroll_ + static_cast<std::size_t>(row)], inner,
              attributes);
  }
  std::string bottom = footer;
  if (max_scroll > 0) bottom += "   (Up/Down: more)";
  draw_text(top + height - 2, left + 2, bottom, inner, attributes | A_BOLD);
}

void ChatScreen::draw_input(int row, int columns) {
  const std::string prompt = "> ";
  const int room = columns - static_cast<int>(prompt.size()) - 1;
  // The window of the input that holds the cursor.
  std::size_t start = 0;
  while (start<cursor_&& static_cast<int>(client::display_width(utf8_from(input_, start, cursor_)))>
             room) {
    ++start;
  }
  const std::string visible = utf8_from(input_, start);
  draw_text(row, 0, prompt, static_cast<int>(prompt.size()), A_BOLD);
  draw_text(row, static_cast<int>(prompt.size()), visible, room);
  const auto cursor_column =
      static_cast<int>(prompt.size() + client::display_width(utf8_from(input_, start, cursor_)));
  if (model_.question() || model_.info()) {
    curs_set(0);
  } else {
    curs_set(1);
    wmove(stdscr, row, std::min(cursor_column, columns - 1));
  }
}

}  // namespace

int run_chat_screen(client::ChatModel& model, client::ChatSession& session, int wake_fd) {
  ChatScreen screen(model, session, wake_fd);
  const int code = screen.run();
  screen.show_closing();
  session.stop();
  return code;
}

}  // namespace parley::app
