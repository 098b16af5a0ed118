package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogLevel is the lowest level of the server's own records that reach
// Options.Logger; below it the server is chatty.
const serverLogLevel = slog.LevelWarn

// serverLogger adapts an slog.Logger to the Temporal server's log.Logger.
//
// The server treats Fatal as "exit the process" and Panic as "panic". Both
// panic here: a panic in Start is turned into an error by startTemporal, and
// one elsewhere still stops a server that cannot go on.
type serverLogger struct {
	slog  *slog.Logger
	phase *atomic.Int32
}

// Server phases, for dropping the expected errors of start and stop.
const (
	// phaseStarting: the worker service dials the frontend before it is
	// healthy and logs the failed attempt before it retries; records with
	// frontendNotHealthy are dropped.
	phaseStarting int32 = iota
	phaseRunning
	// phaseStopping: services stop one after another, and the ones still
	// running log a burst of errors about the ones gone (pollers cut off,
	// "Not enough hosts to serve the request"); all records are dropped.
	phaseStopping
)

const frontendNotHealthy = "Frontend is not healthy yet"

var (
	_ log.Logger      = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
	_ slog.Handler    = minLevelHandler{}
)

// newServerLogger returns a server logger that writes records at
// serverLogLevel and above to l, except those expected in phase.
func newServerLogger(l *slog.Logger, phase *atomic.Int32) serverLogger {
	h := minLevelHandler{Handler: l.Handler(), min: serverLogLevel}
	return serverLogger{slog: slog.New(h).With("component", "temporal"), phase: phase}
}

func (l serverLogger) Debug(msg string, tags ...tag.Tag) { l.log(slog.LevelDebug, msg, tags) }
func (l serverLogger) Info(msg string, tags ...tag.Tag)  { l.log(slog.LevelInfo, msg, tags) }
func (l serverLogger) Warn(msg string, tags ...tag.Tag)  { l.log(slog.LevelWarn, msg, tags) }
func (l serverLogger) Error(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// DPanic logs at error level; zap panics on it only in development mode.
func (l serverLogger) DPanic(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// Panic logs at error level and panics.
func (l serverLogger) Panic(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
	panic(fmt.Sprintf("temporal server: %s%s", msg, errorTag(tags)))
}

// Fatal logs at error level and panics instead of exiting the process.
func (l serverLogger) Fatal(msg string, tags ...tag.Tag) {
	l.log(slog.LevelError, msg, tags)
	panic(fmt.Sprintf("temporal server fatal: %s%s", msg, errorTag(tags)))
}

// SLog gives the server's slog users (log.NewSlogLogger) the same
// level-filtered logger.
func (l serverLogger) SLog() *slog.Logger { return l.slog }

func (l serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !l.slog.Enabled(ctx, level) {
		return
	}
	switch l.phase.Load() {
	case phaseStarting:
		if strings.Contains(errorTag(tags), frontendNotHealthy) {
			return
		}
	case phaseStopping:
		return
	}
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = slog.Any(t.Key(), t.Value())
	}
	l.slog.LogAttrs(ctx, level, msg, attrs...)
}

// errorTag returns ": <error>" for the first error tag, for panic messages.
func errorTag(tags []tag.Tag) string {
	for _, t := range tags {
		if t.Key() == "error" {
			return fmt.Sprintf(": %v", t.Value())
		}
	}
	return ""
}

// minLevelHandler drops records below min.
type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.min && h.Handler.Enabled(ctx, level)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}
