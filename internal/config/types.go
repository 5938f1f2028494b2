// Package config loads, validates and documents automator.yaml.
//
// The Go types in this file are the single source of truth: the strict decoder
// (decode.go), the defaults, the JSON Schema shipped at
// schema/automator.schema.json and `automator config print` are all derived
// from them through struct tags:
//
//	yaml:"name"          key in the file
//	doc:"…"              one-sentence description (schema and docs)
//	default:"…"          value filled in when the key is absent (scalars and lists of scalars, comma separated)
//	enum:"a,b"           allowed values
//	required:"true"      the key must be present
package config

import "io/fs"

// CurrentVersion is the only config format version this build understands.
const CurrentVersion = 1

// Config is the whole of automator.yaml.
type Config struct {
	Version      int           `yaml:"version" doc:"Config format version; must be 1." required:"true"`
	Registry     string        `yaml:"registry,omitempty" doc:"Default registry prefix (e.g. ghcr.io/acme) used by image name templates as {{ .Registry }}."`
	Services     []Service     `yaml:"services,omitempty" doc:"Buildable units of the app monorepo, one image each."`
	Discover     *Discover     `yaml:"discover,omitempty" doc:"Create one service per folder holding a Dockerfile under a root."`
	Build        Build         `yaml:"build,omitempty" doc:"How images are built and tagged."`
	Registries   []Registry    `yaml:"registries,omitempty" doc:"Credentials and transport settings per registry host."`
	Scan         Scan          `yaml:"scan,omitempty" doc:"Trivy vulnerability gate settings."`
	GitHub       GitHub        `yaml:"github,omitempty" doc:"How to reach and authenticate to GitHub (or GitHub Enterprise Server)."`
	Network      Network       `yaml:"network,omitempty" doc:"Deadlines of every outbound HTTP call, to registries and GitHub alike."`
	Environments []Environment `yaml:"environments,omitempty" doc:"Targets in the manifests repository, each with its own write mode and gate."`
	Watch        *Watch        `yaml:"watch,omitempty" doc:"Registry watcher rules for automator watch."`
	Sign         *Sign         `yaml:"sign,omitempty" doc:"Sign every pushed image with a key (cosign's format) and attest its scan and SBOM."`

	source  string
	pos     map[string]Position
	present map[string]bool
	repo    fs.FS
}

// Service is one buildable unit of the monorepo with one image.
type Service struct {
	Name       string            `yaml:"name" doc:"Unique service name." required:"true" pattern:"^[a-z0-9][a-z0-9._-]*$"`
	Context    string            `yaml:"context" doc:"Build context directory, relative to the repository root." required:"true"`
	Dockerfile string            `yaml:"dockerfile,omitempty" doc:"Dockerfile path relative to the repository root; defaults to <context>/Dockerfile."`
	Image      string            `yaml:"image" doc:"Image repository without tag, e.g. ghcr.io/acme/cart." required:"true"`
	Mirrors    []string          `yaml:"mirrors,omitempty" doc:"Further repositories the same image is pushed to (same digest)."`
	Paths      []string          `yaml:"paths,omitempty" doc:"Extra path globs that trigger a rebuild; ** matches any depth, a leading ! excludes."`
	DependsOn  []string          `yaml:"dependsOn,omitempty" doc:"Other service names or shared paths whose changes trigger this service."`
	Args       map[string]string `yaml:"args,omitempty" doc:"Build arguments."`
	Target     string            `yaml:"target,omitempty" doc:"Dockerfile target stage to build."`
	Platforms  []string          `yaml:"platforms,omitempty" doc:"Target platforms (e.g. linux/amd64,linux/arm64); overrides build.platforms."`
	Secrets    []BuildSecret     `yaml:"secrets,omitempty" doc:"Build secrets mounted during the build (never passed as build args)."`
}

// BuildSecret is a secret exposed to RUN --mount=type=secret,id=ID.
type BuildSecret struct {
	ID   string `yaml:"id" doc:"Secret id used by RUN --mount=type=secret,id=…" required:"true"`
	Env  string `yaml:"env,omitempty" doc:"Environment variable holding the secret value."`
	File string `yaml:"file,omitempty" doc:"File holding the secret value."`
}

// Discover creates services from the folders under Root that hold a Dockerfile.
type Discover struct {
	Root       string   `yaml:"root" doc:"Folder whose immediate subfolders are candidate services." required:"true"`
	Dockerfile string   `yaml:"dockerfile,omitempty" doc:"Dockerfile name inside each service folder." default:"Dockerfile"`
	Image      string   `yaml:"image,omitempty" doc:"Image name template; fields .Registry and .Name." default:"{{ .Registry }}/{{ .Name }}"`
	Exclude    []string `yaml:"exclude,omitempty" doc:"Folder names to skip."`
}

// Build holds builder settings shared by all services.
type Build struct {
	Builder     string            `yaml:"builder,omitempty" doc:"Builder backend: auto picks docker buildx when a daemon answers, else buildah." default:"auto" enum:"auto,buildah,docker"`
	Parallelism int               `yaml:"parallelism,omitempty" doc:"How many services build and push at once." default:"2" minimum:"1"`
	Tags        []string          `yaml:"tags,omitempty" doc:"Tag templates; fields .ShortSHA .SHA .Branch .Tag .Timestamp." default:"sha-{{ .ShortSHA }}"`
	Platforms   []string          `yaml:"platforms,omitempty" doc:"Default target platforms; empty means the builder's native platform."`
	CacheFrom   []string          `yaml:"cacheFrom,omitempty" doc:"Cache sources passed through to the builder."`
	CacheTo     []string          `yaml:"cacheTo,omitempty" doc:"Cache destinations passed through to the builder."`
	Labels      map[string]string `yaml:"labels,omitempty" doc:"Extra labels set on every image."`
}

// Network bounds outbound HTTP calls, so that a peer that accepts a connection and never answers
// cannot hold the tool up. Each value is a Go duration.
type Network struct {
	ConnectTimeout        string `yaml:"connectTimeout,omitempty" doc:"Longest wait for a TCP connection, and separately for a TLS handshake." default:"10s"`
	ResponseHeaderTimeout string `yaml:"responseHeaderTimeout,omitempty" doc:"Longest wait for response headers once a request is sent." default:"30s"`
	RequestTimeout        string `yaml:"requestTimeout,omitempty" doc:"Longest time for one whole HTTP exchange, response body included (each retry gets its own)." default:"5m"`
}

// Registry holds credentials and transport settings for one registry host.
type Registry struct {
	Host        string  `yaml:"host" doc:"Registry host[:port], e.g. ghcr.io." required:"true"`
	Username    string  `yaml:"username,omitempty" doc:"User name for basic auth."`
	UsernameEnv string  `yaml:"usernameEnv,omitempty" doc:"Environment variable holding the user name."`
	PasswordEnv string  `yaml:"passwordEnv,omitempty" doc:"Environment variable holding the password or token (never put secrets in the file)."`
	Insecure    bool    `yaml:"insecure,omitempty" doc:"Allow plain HTTP to this registry (local registries only); without it plain HTTP is refused, loopback addresses excepted."`
	RPS         float64 `yaml:"rps,omitempty" doc:"Request rate limit for this registry (requests per second); 0 means no limit, except in automator watch (10)." minimum:"0"`
}

// Scan configures the Trivy gate.
type Scan struct {
	Enabled        *bool    `yaml:"enabled,omitempty" doc:"Scan images before they are pushed or promoted." default:"true"`
	CacheDir       string   `yaml:"cacheDir,omitempty" doc:"Trivy cache directory holding db/trivy.db; defaults to $XDG_CACHE_HOME/automator/trivy."`
	DBRepositories []string `yaml:"dbRepositories,omitempty" doc:"OCI repositories of the Trivy DB, tried in order." default:"mirror.gcr.io/aquasec/trivy-db:2,ghcr.io/aquasecurity/trivy-db:2"`
	SkipDBUpdate   bool     `yaml:"skipDBUpdate,omitempty" doc:"Use the DB already in cacheDir without trying to update it."`
	Offline        bool     `yaml:"offline,omitempty" doc:"Never reach the network while scanning; implies skipDBUpdate."`
	MaxDBAge       string   `yaml:"maxDBAge,omitempty" doc:"A DB older than this is an error (Go duration)." default:"168h"`
	IgnoreFile     string   `yaml:"ignoreFile,omitempty" doc:"Trivy ignore file (.trivyignore or .trivyignore.yaml)."`
	Policy         Policy   `yaml:"policy,omitempty" doc:"Default gate policy for environments that set none."`
}

// Policy decides whether scan findings block a promotion.
type Policy struct {
	FailOn        []string       `yaml:"failOn,omitempty" doc:"Severities that fail the gate." default:"CRITICAL" enumItems:"UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL"`
	IgnoreUnfixed bool           `yaml:"ignoreUnfixed,omitempty" doc:"Ignore findings that have no fixed version."`
	MaxCount      map[string]int `yaml:"maxCount,omitempty" doc:"Allowed number of findings per severity before the gate fails."`
	Mode          string         `yaml:"mode,omitempty" doc:"block stops the promotion; warn only reports." default:"block" enum:"block,warn"`
}

// GitHub configures API access and authentication.
type GitHub struct {
	APIURL    string     `yaml:"apiURL,omitempty" doc:"REST API base URL; defaults to $GITHUB_API_URL, then https://api.github.com."`
	ServerURL string     `yaml:"serverURL,omitempty" doc:"Web base URL for links; defaults to $GITHUB_SERVER_URL, then https://github.com."`
	TokenEnv  string     `yaml:"tokenEnv,omitempty" doc:"Environment variable holding a token (GITHUB_TOKEN or a PAT)." default:"GITHUB_TOKEN"`
	App       *GitHubApp `yaml:"app,omitempty" doc:"Authenticate as a GitHub App (recommended: its PRs trigger CI and its commits are verified)."`
}

// GitHubApp identifies a GitHub App and where its private key comes from.
type GitHubApp struct {
	ID             int64  `yaml:"id" doc:"App ID." required:"true"`
	PrivateKeyFile string `yaml:"privateKeyFile,omitempty" doc:"PEM file holding the App private key."`
	PrivateKeyEnv  string `yaml:"privateKeyEnv,omitempty" doc:"Environment variable holding the PEM private key."`
	InstallationID int64  `yaml:"installationID,omitempty" doc:"Installation ID; found from the manifests repository when absent."`
}

// Environment is a target in the manifests repository.
type Environment struct {
	Name        string         `yaml:"name" doc:"Environment name, e.g. dev." required:"true" pattern:"^[a-z0-9][a-z0-9._-]*$"`
	Repo        string         `yaml:"repo" doc:"Manifests repository owner/name (or a git URL for the local git writer)." required:"true"`
	Branch      string         `yaml:"branch,omitempty" doc:"Branch the environment lives on; defaults to the repository's default branch."`
	Files       []string       `yaml:"files" doc:"Values files or kustomizations to rewrite (paths or globs)." required:"true"`
	Mode        string         `yaml:"mode,omitempty" doc:"How changes land." default:"pull-request" enum:"commit,pull-request"`
	PromoteFrom string         `yaml:"promoteFrom,omitempty" doc:"Environment whose running digests this one is promoted from."`
	Registry    string         `yaml:"registry,omitempty" doc:"Registry prefix images are copied to before promotion when it differs from the build registry."`
	Triggers    []Trigger      `yaml:"triggers,omitempty" doc:"Events on which automator run targets this environment."`
	Gate        *Policy        `yaml:"gate,omitempty" doc:"Scan policy for this environment; defaults to scan.policy."`
	PullRequest PullRequest    `yaml:"pullRequest,omitempty" doc:"Pull request options (mode: pull-request)."`
	Images      []ImagePath    `yaml:"images,omitempty" doc:"Explicit YAML paths for layouts the rewriter cannot find by itself."`
	RetryFor    string         `yaml:"retryFor,omitempty" doc:"How long a write-back keeps re-reading and re-applying while concurrent writers win the race to move the branch (Go duration); back-off is exponential with full jitter." default:"5m"`
	HoldsFile   string         `yaml:"holdsFile,omitempty" doc:"File in the manifests repository (on the environment's branch) that keeps the holds of automator hold and rollback; environments sharing a repository may share it." default:".automator/holds.yaml"`
	Freeze      []FreezeWindow `yaml:"freeze,omitempty" doc:"Recurring windows during which nothing is committed to the environment; pull requests are still updated, labelled freeze and given a failing automator/freeze commit status until the window ends."`
	Soak        string         `yaml:"soak,omitempty" doc:"With promoteFrom: how long the upstream environment must have run a digest (read from its file's history) before it is proposed here (Go duration, e.g. 24h)."`
	Verify      *Verify        `yaml:"verify,omitempty" doc:"Signature and attestations every image must carry before it is promoted here (cosign's key-based formats)."`
}

// FreezeWindow is one recurring freeze window of an environment.
type FreezeWindow struct {
	Start    string `yaml:"start" doc:"Cron expression (five fields: minute hour day-of-month month day-of-week) of the window's starts, e.g. 0 18 * * 5 for Fridays 18:00." required:"true"`
	Duration string `yaml:"duration" doc:"How long each window lasts (Go duration, positive), e.g. 63h." required:"true"`
	TimeZone string `yaml:"timeZone,omitempty" doc:"IANA time zone start is read in, e.g. Europe/Berlin." default:"UTC"`
	Reason   string `yaml:"reason,omitempty" doc:"Why, shown in logs, pull requests and the commit status."`
}

// DefaultHoldsFile is where holds live when an environment names no
// holdsFile.
const DefaultHoldsFile = ".automator/holds.yaml"

// HoldsPath is the environment's holds file (holdsFile or the default).
func (e Environment) HoldsPath() string {
	if e.HoldsFile == "" {
		return DefaultHoldsFile
	}
	return e.HoldsFile
}

// Trigger selects the events on which an environment is targeted.
type Trigger struct {
	Event    string   `yaml:"event" doc:"GitHub event." required:"true" enum:"push,tag,pull_request,workflow_dispatch,merge_group"`
	Branches []string `yaml:"branches,omitempty" doc:"Branch globs (push, pull_request); a leading ! excludes, the last match decides."`
	Tags     []string `yaml:"tags,omitempty" doc:"Tag globs (tag); a leading ! excludes, the last match decides (v*, !v*-rc*: releases only)."`
}

// PullRequest holds options for promotion pull requests.
type PullRequest struct {
	Labels        []string `yaml:"labels,omitempty" doc:"Labels added to the pull request."`
	Reviewers     []string `yaml:"reviewers,omitempty" doc:"User logins asked for review."`
	TeamReviewers []string `yaml:"teamReviewers,omitempty" doc:"Team slugs asked for review."`
	Assignees     []string `yaml:"assignees,omitempty" doc:"User logins assigned."`
	Draft         bool     `yaml:"draft,omitempty" doc:"Open pull requests as drafts."`
	TitleTemplate string   `yaml:"titleTemplate,omitempty" doc:"Title template; fields .Env and .Services." default:"Promote {{ .Services }} to {{ .Env }}"`
}

// ImagePath pins where one service's image lives in a file when no rule finds it.
type ImagePath struct {
	Service    string `yaml:"service" doc:"Service (or watched image) name." required:"true"`
	File       string `yaml:"file,omitempty" doc:"File the paths are in; all environment files when empty."`
	Repository string `yaml:"repository,omitempty" doc:"YAML path of the repository value, e.g. api.image.repository."`
	Tag        string `yaml:"tag,omitempty" doc:"YAML path of the tag value, e.g. api.image.tag."`
	Digest     string `yaml:"digest,omitempty" doc:"YAML path of the digest value."`
	SharedTag  bool   `yaml:"sharedTag,omitempty" doc:"The tag value is shared by several services and may be updated for this one."`
}

// Watch configures the registry watcher.
type Watch struct {
	Interval          string      `yaml:"interval,omitempty" doc:"Poll interval (Go duration)." default:"5m"`
	Concurrency       int         `yaml:"concurrency,omitempty" doc:"Repositories checked at once." default:"4" minimum:"1"`
	MaxTags           int         `yaml:"maxTags,omitempty" doc:"Cap on tags listed per repository." default:"10000" minimum:"1"`
	MaxTagPages       int         `yaml:"maxTagPages,omitempty" doc:"Cap on tag-list pages fetched per repository, empty pages included." default:"200" minimum:"1"`
	RepositoryTimeout string      `yaml:"repositoryTimeout,omitempty" doc:"Longest time one repository's registry requests may take in a poll cycle (Go duration); a hung registry delays only its own repositories." default:"1m"`
	WebhookSecretEnv  string      `yaml:"webhookSecretEnv,omitempty" doc:"Environment variable holding the shared secret for webhook receivers."`
	Rules             []WatchRule `yaml:"rules,omitempty" doc:"One rule per watched image repository."`
}

// WatchRule watches one image repository and promotes eligible tags.
type WatchRule struct {
	Name         string    `yaml:"name" doc:"Rule name; also the service name used in manifests." required:"true"`
	Image        string    `yaml:"image" doc:"Image repository to watch." required:"true"`
	Policy       TagPolicy `yaml:"policy" doc:"Which tag is eligible and newest." required:"true"`
	Exclude      []string  `yaml:"exclude,omitempty" doc:"Tag regexes never considered." default:"\\.sig$,\\.att$,\\.sbom$"`
	Environments []string  `yaml:"environments" doc:"Environments to promote into." required:"true"`
	Interval     string    `yaml:"interval,omitempty" doc:"Poll interval for this rule; defaults to watch.interval."`
	MinAge       string    `yaml:"minAge,omitempty" doc:"A new tag is promoted only once it is at least this old, counted from its push time when a registry webhook tells it, else from when this watcher process first saw it (Go duration, e.g. 2h)."`
}

// TagPolicy selects tags. Exactly one of Semver, Regex or Digest is set.
type TagPolicy struct {
	Semver     string `yaml:"semver,omitempty" doc:"Semver range (Masterminds syntax), e.g. >=3.0.0 <4.0.0."`
	Prerelease bool   `yaml:"prerelease,omitempty" doc:"Allow pre-release versions with semver."`
	Regex      string `yaml:"regex,omitempty" doc:"Tag filter regex."`
	Extract    string `yaml:"extract,omitempty" doc:"Value used for ordering, e.g. $ts from a named group."`
	Order      string `yaml:"order,omitempty" doc:"How extracted values are ordered." enum:"numerical,alphabetical"`
	Digest     string `yaml:"digest,omitempty" doc:"Follow this moving tag (e.g. stable) by digest."`
}
