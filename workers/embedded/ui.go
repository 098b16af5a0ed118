package embedded

import (
	"context"
	"fmt"
	"net/http"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// startUI serves the Temporal Web UI on host:port and waits until it answers.
//
// ui-server's Start binds the port itself and, if that fails, calls echo's
// Logger.Fatal, which exits the process. So the port is probed first; the
// window between probe and bind is tiny for a port the caller chose.
func (s *Server) startUI(ctx context.Context, host string, port int) (err error) {
	if err := checkPortFree(host, port); err != nil {
		return fmt.Errorf("web ui port: %w", err)
	}

	// NewServer panics on invalid configuration.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("create web ui server: %v", r)
		}
	}()
	ui := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: s.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    s.namespace,
		DisableNewsFetch:    true, // no internet in dev and CI
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true}, // served over plain HTTP
	}))
	s.ui = ui
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		// Returns nil once Stop closes the server.
		if err := ui.Start(); err != nil {
			s.logger.Error("web ui server failed", "error", err)
		}
	}()

	s.uiURL = "http://" + hostPort(dialHost(host), port)
	if err := poll(ctx, func(ctx context.Context) error { return getOK(ctx, s.uiURL+"/healthz") }); err != nil {
		return fmt.Errorf("web ui not ready: %w", err)
	}
	return nil
}

// getOK issues a GET to url and fails unless the answer is 200 OK.
func getOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
