// parley-cert lint: checks certificate signing requests against what CAs and clients require
// before they are submitted (pki::lint_csrs; every rule is in docs/certificates.md).
// Exit 0 when no finding is an error, 1 when one is, 2 when a file cannot be read or is not a
// usable CSR as given (not PEM, truncated, not a request); input problems are also written to
// stderr, naming the file, whatever the output format.

#include <iostream>

#include "cli.hpp"
#include "core/file.hpp"
#include "pki/csr_lint.hpp"

namespace parley::cert_cli {
namespace {

namespace json = boost::json;
using namespace parley::pki;

// A CSR is a few kilobytes even with a hundred SANs; anything near this is not a CSR.
constexpr std::size_t kMaxCsrFileBytes = 1024 * 1024;

struct LintArguments {
  std::vector<std::string> files;
  std::string profile = "public-ca";
  bool json_output = false;
};

// A file that could not be read becomes a finding too, so that --json consumers see it.
LintFinding unreadable(const std::string& path, const Error& error) {
  std::string message = error.message;
  if (message.starts_with(path + ": ")) message.erase(0, path.size() + 2);
  const bool too_large = error.kind == ErrorKind::limit;
  return LintFinding{LintSeverity::error,
                     LintStage::input,
                     too_large ? "file-too-large" : "file-unreadable",
                     path,
                     "file",
                     message,
                     too_large ? "give the CSR file itself (a PEM CSR is a few kilobytes)"
                               : "check the path and the file's permissions"};
}

int run(const LintArguments& args) {
  const auto profile = parse_ca_profile(args.profile);
  if (!profile)
    throw UsageError{"--profile " + args.profile + ": expected public-ca or private-ca"};
  if (args.files.size() > kMaxCsrsPerLint) {
    throw UsageError{std::to_string(args.files.size()) + " files given; lint at most " +
                     std::to_string(kMaxCsrsPerLint) + " at once"};
  }

  std::vector<LintFinding> findings;
  std::vector<LintInput> inputs;
  for (const auto& path : args.files) {
    auto contents = read_file(path, kMaxCsrFileBytes);
    if (!contents) {
      findings.push_back(unreadable(path, contents.error()));
      continue;
    }
    inputs.push_back({path, std::move(*contents)});
  }
  for (auto& finding : lint_csrs(inputs, LintOptions{*profile}))
    findings.push_back(std::move(finding));

  for (const auto& finding : findings) {
    if (finding.stage == LintStage::input && finding.severity == LintSeverity::error) {
      std::cerr << "parley-cert: " << finding.file << ": " << finding.message << "\n";
    }
  }
  const int exit_code = has_input_problems(findings) ? kExitUsage
                        : has_errors(findings)       ? kExitInvalid
                                                     : kExitValid;

  if (args.json_output) {
    json::array out;
    for (const auto& f : findings) {
      out.push_back({{"severity", to_string(f.severity)},
                     {"rule", f.rule},
                     {"file", f.file},
                     {"field", f.field},
                     {"message", f.message},
                     {"fix", f.fix}});
    }
    std::cout << json::serialize(out) << "\n";
    return exit_code;
  }

  std::size_t counts[3] = {0, 0, 0};
  for (const auto& path : args.files) {
    bool any = false;
    for (const auto& f : findings) {
      if (f.file != path) continue;
      any = true;
      ++counts[static_cast<int>(f.severity)];
      std::cout << f.file << ": " << to_string(f.severity) << " [" << f.rule << "] " << f.field
                << ": " << f.message << "\n"
                << "    fix: " << f.fix << "\n";
    }
    if (!any) std::cout << path << ": no findings\n";
  }
  auto count = [](std::size_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
  };
  std::cout << count(args.files.size(), "file") << " linted for a " << to_string(*profile) << ": "
            << count(counts[0], "error") << ", " << count(counts[1], "warning") << ", "
            << count(counts[2], "note") << "\n";
  return exit_code;
}

const bool registered = register_command([](CLI::App& root) {
  auto args = std::make_shared<LintArguments>();
  CLI::App* command = root.add_subcommand(
      "lint",
      "check CSRs against what public/private CAs and clients require (docs/certificates.md)");
  command
      ->add_option("csr", args->files,
                   "CSR files (Base64 PEM); several are also checked as one set")
      ->required();
  command->add_option("--profile", args->profile, "public-ca (default) or private-ca")
      ->check(CLI::IsMember({"public-ca", "private-ca"}));
  command->add_flag("--json", args->json_output, "print the findings as a JSON array");
  return Command{command, [args] { return run(*args); }};
});

}  // namespace
}  // namespace parley::cert_cli
