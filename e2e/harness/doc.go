// Package harness provides the real collaborators that end-to-end tests run the automator against:
//
//   - StartRegistry: Debian's docker-registry (CNCF distribution 2.8) on a free loopback port with its own
//     filesystem storage, anonymous, htpasswd (bcrypt) or token auth (an in-process token server signing ES256
//     JWTs with an x5c certificate that is the registry's rootcertbundle). Clients talk to Registry.Host, a
//     front proxy that records every request by kind (manifest, blob, blob-upload, …) and injects faults.
//   - StartGitHub: a stateful fake of the GitHub REST API backed by real bare git repositories, served at "/"
//     and "/api/v3/", with GitHub's JSON shapes and error bodies: token and GitHub App auth (JWT checks,
//     installation tokens with permissions and repository scope), repos, branches, contents, git refs /
//     blobs / trees / commits, commits and compare, pull requests with labels, reviewers and assignees, branch
//     protection, rate-limit headers, fault injection and a request log; plus git smart HTTP for the same
//     repositories (git http-backend) with x-access-token basic auth. Requests to endpoints it does not model
//     get 404 and are listed by Unmatched.
//   - NewGitRepo / Clone: work-tree repositories with deterministic commit history, pushed to the fake with
//     PushTo; CreateRepo seeds a fake repository from a directory.
//   - PushEvent, PullRequestEvent, MergeGroupEvent, WorkflowDispatchEvent and ActionsEnv: the GITHUB_* runner
//     environment and event payload file for running the binary as the container action would run.
//
// Everything is started per test and torn down by t.Cleanup; nothing listens on anything but 127.0.0.1.
// Tests that need an external binary call RequireBinary, which skips only when the binary is missing and
// the CI environment variable is empty; in CI a missing binary fails the test.
package harness
