package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/models"
)

// jobPrefix makes a job's workflow ID from its 32-hex job UUID.
const jobPrefix = "job-"

// startJob starts the workflow of an async API and answers 202 with the
// job's location. X-Job-UUID makes a submission idempotent: the same UUID
// returns the same job.
func (s *Server) startJob(r *request, workflow string, arg any) {
	c := r.c
	jobID := c.GetHeader("X-Job-UUID")
	if jobID == "" {
		jobID = models.NewUUID()
	} else if !models.IsUUID(jobID) {
		writeError(c, http.StatusBadRequest, models.Invalid("X-Job-UUID must be 32 hex characters"))
		return
	}
	wfID := jobPrefix + jobID
	_, err := s.o.Temporal.ExecuteWorkflow(c.Request.Context(), client.StartWorkflowOptions{
		ID:                       wfID,
		TaskQueue:                activities.TaskQueue,
		WorkflowExecutionTimeout: 12 * time.Hour,
		// A second submission with the same job UUID gets the first job,
		// running or finished.
		WorkflowExecutionErrorWhenAlreadyStarted: false,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		Memo:                                     map[string]any{"api": r.api.Name, "account": r.session.AccountUUID},
	}, workflow, arg)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &already) {
		writeError(c, http.StatusServiceUnavailable, &models.Error{Kind: models.KindUnavailable, Code: models.CodeInternal,
			Message: "cannot start the job", Cause: err})
		return
	}
	body := gin.H{"location": "http://" + c.Request.Host + Base + "/api-jobs/" + jobID, "apiTimeout": 43200000, "workflowId": wfID}
	if u := s.workflowURL(wfID); u != "" {
		body["temporalUrl"] = u
	}
	c.JSON(http.StatusAccepted, body)
}

func (s *Server) workflowURL(wfID string) string {
	if s.o.TemporalUIURL == "" {
		return ""
	}
	return s.o.TemporalUIURL + "/namespaces/" + s.o.Namespace + "/workflows/" + wfID
}

// pollJob answers a job poll: 200 with the result, 503 with the error, 202
// while it runs (after holding the poll up to PollHold, so that short jobs
// end within the client's first poll), 404 when unknown or expired.
func (s *Server) pollJob(c *gin.Context, jobID string) {
	if !models.IsUUID(jobID) {
		writeError(c, http.StatusNotFound, models.NotFound("the job has been expired or does not exist"))
		return
	}
	wfID := jobPrefix + jobID
	res, err := s.waitJob(c.Request.Context(), wfID)
	c.Header("X-Temporal-Workflow-Id", wfID)
	if u := s.workflowURL(wfID); u != "" {
		c.Header("X-Temporal-Url", u)
	}
	switch {
	case err == nil:
		body := map[string]any{}
		if res.Key != "" {
			body[res.Key] = json.RawMessage(res.Value)
		}
		c.JSON(http.StatusOK, body)
	case c.Request.Context().Err() == nil && (errors.Is(err, context.DeadlineExceeded) || isDeadline(err)):
		c.JSON(http.StatusAccepted, gin.H{})
	default:
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			writeError(c, http.StatusNotFound, models.NotFound("the job has been expired or does not exist"))
			return
		}
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": jobError(err)})
	}
}

// describeEvery is how often a waiting poll checks the job's status
// besides waiting on its close event. The history service can miss the
// wake-up of that wait, which then lasts until the server's long-poll expiry
// (2 s); a cheap status check (served from the workflow's cached state)
// bounds the stall. Re-issuing the wait itself instead piles up server-side
// waiters and was measured to choke the history shard.
const describeEvery = 300 * time.Millisecond

// waitJob waits up to PollHold for a job's result.
func (s *Server) waitJob(ctx context.Context, wfID string) (activities.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.PollHold)
	defer cancel()
	type outcome struct {
		res activities.Result
		err error
	}
	done := make(chan outcome, 1)
	wctx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	go func() {
		var res activities.Result
		err := s.o.Temporal.GetWorkflow(wctx, wfID, "").Get(wctx, &res)
		done <- outcome{res, err}
	}()
	tick := time.NewTicker(describeEvery)
	defer tick.Stop()
	for {
		select {
		case o := <-done:
			return o.res, o.err
		case <-tick.C:
			d, err := s.o.Temporal.DescribeWorkflowExecution(ctx, wfID, "")
			if err != nil || d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
				continue
			}
			// Closed but the wait missed it: fetch the result afresh.
			stopWait()
			<-done
			var res activities.Result
			err = s.o.Temporal.GetWorkflow(ctx, wfID, "").Get(ctx, &res)
			return res, err
		}
	}
}

// jobError turns a workflow failure into ZStack's error shape: ZCloud
// errors keep their code; a host step that failed or timed out is a host
// error; the Temporal error is kept as the cause.
func jobError(err error) *errorBody {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		if app.Type() == activities.ErrType {
			var me models.Error
			if app.HasDetails() && app.Details(&me) == nil {
				return toErrorBody(&me)
			}
		}
		return &errorBody{Code: "HOST.1005", Description: "operation on the host failed", Details: app.Error(),
			Cause: &errorBody{Code: app.Type(), Description: app.Message()}}
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		return &errorBody{Code: models.CodeHostUnavailable, Description: "the host agent did not answer in time",
			Details: "timeout " + to.TimeoutType().String() + "; a host whose agent is down is rolled back (queue " + hostapi.QueuePrefix + "<uuid>)",
			Cause:   &errorBody{Code: models.CodeTimeout, Description: err.Error()}}
	}
	var ce *temporal.CanceledError
	if errors.As(err, &ce) {
		return &errorBody{Code: models.CodeCancel, Description: "the job was cancelled", Details: err.Error()}
	}
	return &errorBody{Code: models.CodeOperation, Description: "the job failed", Details: err.Error()}
}

// cancelJob cancels a running job (DELETE /api-jobs/{id}, a ZCloud
// extension); the workflow's compensation runs.
func (s *Server) cancelJob(c *gin.Context, jobID string) {
	if err := s.o.Temporal.CancelWorkflow(c.Request.Context(), jobPrefix+jobID, ""); err != nil {
		writeError(c, http.StatusNotFound, models.NotFound("cannot cancel job %s: %v", jobID, err))
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

// isDeadline reports a long poll that ended by its deadline (the server may
// answer DEADLINE_EXCEEDED a moment before the context notices).
func isDeadline(err error) bool {
	var de *serviceerror.DeadlineExceeded
	return errors.As(err, &de)
}
