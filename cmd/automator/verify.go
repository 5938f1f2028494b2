package main

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/evidence"
)

type verifyOptions struct {
	keys, attestations []string
	env                string
}

func newVerifyCmd(a *app) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:     "verify IMAGE... (--key FILE... [--attestation TYPE[=MAXAGE]]... | --env ENV)",
		Short:   "Check images' cosign signatures and attestations, as a promotion would",
		Long:    help("verify.long"),
		Args:    cobra.MinimumNArgs(1),
		Example: help("verify.example"),
		RunE:    func(cmd *cobra.Command, args []string) error { return verifyRun(cmd, a, &o, args) },
	}
	cmd.Flags().StringArrayVar(&o.keys, "key", nil, "PEM public key trusted to sign (repeatable; any one suffices)")
	cmd.Flags().StringArrayVar(&o.attestations, "attestation", nil, "required attestation TYPE or TYPE=MAXAGE, e.g. vuln=168h (repeatable)")
	cmd.Flags().StringVar(&o.env, "env", "", "use this environment's verify policy from the config instead of --key/--attestation")
	return cmd
}

// verifyRun prints the evidence of every image as JSON; any unverified
// image is an *evidence.UnverifiedError (exit 3).
func verifyRun(cmd *cobra.Command, a *app, o *verifyOptions, images []string) error {
	cfg, err := a.Config()
	if err != nil && (o.env != "" || !errors.Is(err, config.ErrNotFound)) {
		return err
	}
	var base evidence.Policy
	if o.env != "" {
		t, err := a.Target(o.env)
		if err != nil {
			return err
		}
		if t.Verify == nil {
			return usageErrorf("environment %q has no verify policy", o.env)
		}
		base = *t.Verify
	}
	p, err := evidence.PolicyFromFlags(base, os.ReadFile, o.keys, o.attestations)
	if err != nil {
		return &usageError{err: err}
	}
	rc, err := a.RegistryClient(cfg)
	if err != nil {
		return err
	}
	v := evidence.NewVerifier(rc, nil)
	results := []*evidence.Result{}
	var errs []error
	for _, img := range images {
		res, err := v.Verify(cmd.Context(), img, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		results = append(results, res)
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	if err := enc.Encode(results); err != nil {
		return err
	}
	return errors.Join(errs...)
}
