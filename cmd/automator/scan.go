package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/scan"
)

type scanOptions struct {
	layout        string
	envs          []string
	failOn        []string
	ignoreUnfixed bool
	mode          string
	format        string
	sarif         string
	markdown      string
	ignoreFile    string
	cacheDir      string
	offline       bool
	skipDBUpdate  bool
}

const scanLong = `scan finds vulnerabilities in OS and language packages of one image, with Trivy linked into
automator (no trivy binary needed), and applies a gate policy to the findings.

The image is an OCI image layout directory (--oci-layout, e.g. from a build before push) or a
remote image reference, preferably by digest; registry credentials come from the config's
registries and the Docker config.

The policy is that of each --env (its gate, or scan.policy), or an ad-hoc one from --fail-on,
--ignore-unfixed and --mode, or else scan.policy. The ignore file (--ignore-file or
scan.ignoreFile, .trivyignore or .trivyignore.yaml) suppresses accepted risks until their
expired_at; expired entries are reported and no longer apply.

The vulnerability DB comes from scan.cacheDir, updated from scan.dbRepositories (tried in
order) unless --offline or --skip-db-update. A missing DB, or one older than scan.maxDBAge, is
an error (exit 1), never a pass. Every report shows the DB's age.

Exit code 0 when every policy passes or only warns, 3 when one blocks, 1 when the scan fails.`

const scanExample = `  # Gate a freshly built OCI layout against prod's policy, before pushing it
  automator scan --oci-layout build/cart --env prod

  # Check a pushed image against every listed environment, markdown for the job summary
  automator scan ghcr.io/acme/cart@sha256:4b6f...e1 --env dev,staging,prod --markdown "$GITHUB_STEP_SUMMARY"

  # Ad-hoc policy, SARIF for code scanning, air-gapped with a pre-seeded DB
  automator scan ghcr.io/acme/cart:1.4.0 --fail-on CRITICAL,HIGH --ignore-unfixed \
    --sarif trivy.sarif --offline --cache-dir /var/cache/trivy

  # Machine-readable verdicts
  automator scan --oci-layout build/cart --env prod --format json > scan.json`

func newScanCmd(a *app) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:     "scan (IMAGE_REF | --oci-layout DIR) [--env NAME | --fail-on CRITICAL,HIGH --ignore-unfixed] [--format table|json|sarif]",
		Short:   "Scan an image with the built-in Trivy and apply the vulnerability gate",
		Long:    scanLong,
		Example: scanExample,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.layout == "" && len(args) != 1:
				return usageErrorf("give one IMAGE_REF or --oci-layout DIR")
			case o.layout != "" && len(args) != 0:
				return usageErrorf("give either IMAGE_REF or --oci-layout DIR, not both")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := o.layout
			if len(args) == 1 {
				ref = args[0]
			}
			return runScan(cmd, a, o, ref)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.layout, "oci-layout", "", "scan the image in this OCI image layout directory (DIR, DIR:TAG or DIR@DIGEST)")
	f.StringSliceVar(&o.envs, "env", nil, "apply these environments' gate policies (comma separated or repeated)")
	f.StringSliceVar(&o.failOn, "fail-on", nil, "ad-hoc policy: severities that fail the gate, e.g. CRITICAL,HIGH")
	f.BoolVar(&o.ignoreUnfixed, "ignore-unfixed", false, "ad-hoc policy: skip findings without a fixed version")
	f.StringVar(&o.mode, "mode", "", "ad-hoc policy: block or warn (default block)")
	f.StringVar(&o.format, "format", "table", "report on stdout: table, json or sarif")
	f.StringVar(&o.sarif, "sarif", "", "also write a SARIF 2.1.0 report to FILE (for code scanning upload)")
	f.StringVar(&o.markdown, "markdown", "", "also append a markdown report to FILE (e.g. $GITHUB_STEP_SUMMARY)")
	f.StringVar(&o.ignoreFile, "ignore-file", "", "ignore file (.trivyignore or .trivyignore.yaml); default scan.ignoreFile")
	f.StringVar(&o.cacheDir, "cache-dir", "", "Trivy cache dir holding db/trivy.db; default scan.cacheDir")
	f.BoolVar(&o.offline, "offline", false, "never reach the network for the DB; use the one in the cache dir")
	f.BoolVar(&o.skipDBUpdate, "skip-db-update", false, "use the DB in the cache dir without checking for a newer one")
	return cmd
}

func runScan(cmd *cobra.Command, a *app, o scanOptions, ref string) error {
	ctx := cmd.Context()
	if o.format != "table" && o.format != "json" && o.format != "sarif" {
		return usageErrorf("--format: unknown format %q (want table, json or sarif)", o.format)
	}
	adHoc := len(o.failOn) > 0 || o.ignoreUnfixed || o.mode != ""
	if adHoc && len(o.envs) > 0 {
		return usageErrorf("--env and --fail-on/--ignore-unfixed/--mode are exclusive: an environment brings its own policy")
	}
	cfg, err := a.config()
	if errors.Is(err, config.ErrNotFound) && len(o.envs) == 0 && a.configPath == "" {
		cfg, err = nil, nil // a one-off scan needs no config file
	}
	if err != nil {
		return err
	}
	policies, err := scanPolicies(a, cfg, o, adHoc)
	if err != nil {
		return err
	}
	ignores, err := scanIgnores(cfg, o.ignoreFile)
	if err != nil {
		return &usageError{err: err}
	}
	scanner, err := newScanner(ctx, a, cfg, o)
	if err != nil {
		return err
	}
	defer scanner.Close()
	var img v1.Image
	if o.layout != "" {
		img, err = scan.OpenLayout(o.layout)
	} else {
		img, err = openRemoteForScan(ctx, a, cfg, ref)
	}
	if err != nil {
		return err
	}
	log := a.logger.With(zap.String("image", ref))
	log.Info("scanning image", zap.String("db", scanner.DB().Describe(time.Now())))
	report, err := scanner.Scan(ctx, ref, img)
	if err != nil {
		return err
	}
	return gateReport(cmd.OutOrStdout(), log, o, report, gate.EvaluateAll(report, policies, ignores, time.Now()))
}

// newScanner opens Trivy with the config's scan settings and the flags.
func newScanner(ctx context.Context, a *app, cfg *config.Config, o scanOptions) (*scan.Trivy, error) {
	var sc config.Scan
	if cfg != nil {
		sc = cfg.Scan
	}
	opts := []scan.Option{scan.WithConfig(sc), scan.WithLogger(a.logger)}
	if o.cacheDir != "" {
		opts = append(opts, scan.WithCacheDir(o.cacheDir))
	}
	if o.offline {
		opts = append(opts, scan.WithOffline(true))
	}
	if o.skipDBUpdate {
		opts = append(opts, scan.WithSkipDBUpdate(true))
	}
	return scan.New(ctx, opts...)
}

// gateReport writes the reports the flags ask for and applies the verdicts:
// a *gate.BlockedError when one blocks.
func gateReport(out io.Writer, log *zap.Logger, o scanOptions, report *gate.Report, verdicts []gate.Verdict) error {
	now := time.Now()
	var err error
	switch o.format {
	case "json":
		err = gate.WriteJSON(out, report, verdicts, now)
	case "sarif":
		err = gate.WriteSARIF(out, report, verdicts, now)
	default:
		err = gate.WriteTable(out, report, verdicts, now)
	}
	if err != nil {
		return fmt.Errorf("writing the %s report: %w", o.format, err)
	}
	if err := writeReportFile(o.sarif, false, func(w io.Writer) error { return gate.WriteSARIF(w, report, verdicts, now) }); err != nil {
		return err
	}
	if err := writeReportFile(o.markdown, true, func(w io.Writer) error { return gate.WriteMarkdown(w, report, verdicts, now) }); err != nil {
		return err
	}
	for _, v := range verdicts {
		if v.Outcome == gate.Warn {
			log.Warn("vulnerability gate failed in warn mode, not blocking", zap.String("env", v.Env),
				zap.String("digest", report.Image.Digest), zap.Strings("reasons", v.Reasons))
		}
	}
	if err := gate.Check(report.Image, verdicts); err != nil {
		return err
	}
	log.Info("vulnerability gate passed", zap.String("digest", report.Image.Digest), zap.Strings("allowed", gate.Allowed(verdicts)))
	return nil
}

// scanPolicies picks the policies to apply: the named environments', an
// ad-hoc one from flags, or scan.policy (the config default when no config).
func scanPolicies(a *app, cfg *config.Config, o scanOptions, adHoc bool) ([]gate.EnvPolicy, error) {
	if len(o.envs) > 0 {
		all, err := a.targets()
		if err != nil {
			return nil, err
		}
		ts, err := all.Lookup(o.envs...)
		if err != nil {
			return nil, err
		}
		out := make([]gate.EnvPolicy, len(ts))
		for i, t := range ts {
			out[i] = t.EnvPolicy()
		}
		return out, nil
	}
	base := config.Policy{FailOn: []string{"CRITICAL"}, Mode: "block"}
	if cfg != nil {
		base = cfg.Scan.Policy
	}
	if adHoc {
		base = config.Policy{FailOn: o.failOn, IgnoreUnfixed: o.ignoreUnfixed, Mode: o.mode}
	}
	p, err := gate.PolicyFromConfig("policy", base)
	if err != nil {
		return nil, &usageError{err: err}
	}
	return []gate.EnvPolicy{{Policy: p}}, nil
}

// scanIgnores loads --ignore-file, else scan.ignoreFile relative to the
// repository root of the config.
func scanIgnores(cfg *config.Config, flagPath string) (*gate.IgnoreList, error) {
	if flagPath != "" {
		return gate.LoadIgnoreFile(flagPath)
	}
	if cfg == nil || cfg.Scan.IgnoreFile == "" {
		return nil, nil
	}
	p := cfg.Scan.IgnoreFile
	if filepath.IsAbs(p) || cfg.Repo() == nil {
		return gate.LoadIgnoreFile(p)
	}
	data, err := fs.ReadFile(cfg.Repo(), filepath.ToSlash(filepath.Clean(p)))
	if err != nil {
		return nil, fmt.Errorf("scan.ignoreFile: reading %q: %w", p, err)
	}
	return gate.ParseIgnore(p, data)
}

// openRemoteForScan opens ref with the config's registry settings: the
// registry client parses it (plain HTTP for insecure registries) and the
// config's credentials come first, then the Docker config.
func openRemoteForScan(ctx context.Context, a *app, cfg *config.Config, ref string) (v1.Image, error) {
	var regs []config.Registry
	if cfg != nil {
		regs = cfg.Registries
	}
	rc, err := a.registryClient(cfg, regs)
	if err != nil {
		return nil, err
	}
	r, err := rc.ParseReference(ref)
	if err != nil {
		return nil, &usageError{err: err}
	}
	return scan.OpenRemote(ctx, r, remote.WithAuthFromKeychain(authn.NewMultiKeychain(configKeychain(regs, a.getenv), authn.DefaultKeychain)), remote.WithUserAgent("automator/"+version))
}

// writeReportFile writes (or, with appendTo, appends) one report to path;
// an empty path writes nothing.
func writeReportFile(path string, appendTo bool, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("opening report file %q: %w", path, err)
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing report file %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing report file %q: %w", path, err)
	}
	return nil
}
