package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/models"
)

// readWorkflow runs a short read-only workflow — a query answered by a host
// or a remote cloud rather than the store — and waits for its result in out,
// within timeout. It is no job: nothing changes, so nothing is recorded. A
// failure is answered here, with the status of its models.Error (503
// otherwise) and the job error body, and readWorkflow reports false.
func (s *Server) readWorkflow(r *request, idPrefix string, timeout time.Duration, wf string, arg, out any) bool {
	ctx, cancel := context.WithTimeout(r.c.Request.Context(), timeout)
	defer cancel()
	run, err := s.o.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: idPrefix + models.NewUUID(),
		TaskQueue: activities.TaskQueue, WorkflowExecutionTimeout: timeout}, wf, arg)
	if err == nil {
		err = run.Get(ctx, out)
	}
	if err == nil {
		return true
	}
	status := http.StatusServiceUnavailable
	var app *temporal.ApplicationError
	var me models.Error
	if errors.As(err, &app) && app.Type() == activities.ErrType && app.HasDetails() && app.Details(&me) == nil {
		status = statusOf(&me)
	}
	r.c.JSON(status, gin.H{"error": jobError(err)})
	return false
}
