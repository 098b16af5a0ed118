package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

const (
	pollInterval = 20 * time.Millisecond
	// probeTimeout bounds one readiness probe, so that a call stuck on a
	// service that is still starting is retried rather than waited out.
	probeTimeout = 2 * time.Second
	// probeWorkflowID names a workflow that never exists; describing it
	// reaches the history service, which answers NotFound once it owns the
	// shard.
	probeWorkflowID = "zcloud-embedded-readiness-probe"
)

// waitReady polls the frontend at addr until it answers, namespace exists and
// the history service serves requests.
func waitReady(ctx context.Context, addr, namespace string, logger *slog.Logger) error {
	var c client.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	err := poll(ctx, func(ctx context.Context) error {
		if c == nil {
			var err error
			c, err = client.DialContext(ctx, client.Options{
				HostPort:  addr,
				Namespace: namespace,
				Logger:    sdklog.NewStructuredLogger(slog.New(minLevelHandler{Handler: logger.Handler(), min: slog.LevelWarn})),
			})
			if err != nil {
				return fmt.Errorf("dial frontend: %w", err)
			}
		}
		req := &workflowservice.DescribeNamespaceRequest{Namespace: namespace}
		if _, err := c.WorkflowService().DescribeNamespace(ctx, req); err != nil {
			return fmt.Errorf("describe namespace: %w", err)
		}
		_, err := c.DescribeWorkflowExecution(ctx, probeWorkflowID, "")
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("history probe: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("temporal server not ready at %s: %w", addr, err)
	}
	return nil
}

// poll calls probe until it succeeds or ctx ends, and then returns the last
// probe error along with ctx's.
func poll(ctx context.Context, probe func(context.Context) error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}
