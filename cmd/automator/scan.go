package main

import (
	"errors"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
	trivy         scan.Overrides
}

func newScanCmd(a *app) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:     "scan (IMAGE_REF | --oci-layout DIR) [--env NAME | --fail-on CRITICAL,HIGH --ignore-unfixed] [--format table|json|sarif]",
		Short:   "Scan an image with the built-in Trivy and apply the vulnerability gate",
		Long:    help("scan.long"),
		Example: help("scan.example"),
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
	f.StringVar(&o.trivy.CacheDir, "cache-dir", "", "Trivy cache dir holding db/trivy.db; default scan.cacheDir")
	f.BoolVar(&o.trivy.Offline, "offline", false, "never reach the network for the DB; use the one in the cache dir")
	f.BoolVar(&o.trivy.SkipDBUpdate, "skip-db-update", false, "use the DB in the cache dir without checking for a newer one")
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
	cfg, err := a.Config()
	if errors.Is(err, config.ErrNotFound) && len(o.envs) == 0 && a.ConfigPath == "" {
		cfg, err = nil, nil // a one-off scan needs no config file
	}
	if err != nil {
		return err
	}
	var adHocPolicy *config.Policy
	if adHoc {
		adHocPolicy = &config.Policy{FailOn: o.failOn, IgnoreUnfixed: o.ignoreUnfixed, Mode: o.mode}
	}
	policies, err := a.ScanPolicies(cfg, o.envs, adHocPolicy)
	if err != nil {
		return err
	}
	ignores, err := gate.LoadIgnores(cfg, o.ignoreFile)
	if err != nil {
		return &usageError{err: err}
	}
	scanner, err := a.Scanner(ctx, cfg, o.trivy)
	if err != nil {
		return err
	}
	defer scanner.Close()
	var img v1.Image
	if o.layout != "" {
		img, err = scan.OpenLayout(o.layout)
	} else {
		img, err = a.OpenRemote(ctx, cfg, ref)
	}
	if err != nil {
		return err
	}
	log := a.Logger.With(zap.String("image", ref))
	log.Info("scanning image", zap.String("db", scanner.DB().Describe(time.Now())))
	report, err := scanner.Scan(ctx, ref, img)
	if err != nil {
		return err
	}
	reports := gate.Reports{Format: o.format, SARIF: o.sarif, Markdown: o.markdown, Scrub: a.Redactor.Redact}
	return reports.Apply(cmd.OutOrStdout(), log, report, gate.EvaluateAll(report, policies, ignores, time.Now()), time.Now())
}
