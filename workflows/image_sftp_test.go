package workflows_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zcloud/zcloud/activities"
	"github.com/zcloud/zcloud/activities/bsapi"
	"github.com/zcloud/zcloud/activities/hostapi"
	"github.com/zcloud/zcloud/workflows"
)

// TestImageToSftpSagaOrder checks the image of a volume written to an
// Sftp backup storage: the host gets an sftp:// destination (no HTTP
// grant), the agent imports what the host wrote (its size and MD5), and a
// failure at any step deletes the image on the backup storage (which
// removes a written file not taken in), the temporary snapshot and the
// records, in reverse order.
func TestImageToSftpSagaOrder(t *testing.T) {
	const sftpURL = "sftp://root:sealed@10.0.0.9:22/bs/partial/img.part?hostKey=SHA256%3Ax"
	forward := []string{activities.ImageFromVolumeRecord, activities.SftpBSUploadURL, hostapi.ActUploadVolumeImage, bsapi.ActImportFile,
		activities.ImageRecordDownloaded, activities.Inventory}
	for i, failAt := range forward {
		t.Run(failAt, func(t *testing.T) {
			var mu sync.Mutex
			var calls []string
			var imported bsapi.ImportFileParams
			step := func(name string) error {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, name)
				if name == failAt {
					return temporal.NewNonRetryableApplicationError("boom", activities.ErrType, nil)
				}
				return nil
			}
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			add := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
			add(activities.ImageFromVolumeRecord, func(context.Context, activities.ImageFromVolumeParams) (activities.ImageSourceResult, error) {
				return activities.ImageSourceResult{HostUUID: "h1", Volume: hostapi.VolumeSpec{UUID: "root"},
					Targets: []activities.ImageTarget{{BSUUID: "bs", Agent: true, Sftp: true}}}, step(activities.ImageFromVolumeRecord)
			})
			add(activities.ImageDeleteRecord, func(context.Context, activities.InventoryParams) error { return step(activities.ImageDeleteRecord) })
			add(activities.SftpBSUploadURL, func(_ context.Context, p activities.SftpUploadParams) (string, error) {
				assert.Equal(t, activities.SftpUploadParams{BSUUID: "bs", ImageUUID: "img", HostUUID: "h1"}, p)
				return sftpURL, step(activities.SftpBSUploadURL)
			})
			add(activities.ImageUploadToken, func(context.Context, activities.ImageOpParams) (string, error) {
				return "", step(activities.ImageUploadToken)
			})
			add(hostapi.ActUploadVolumeImage, func(_ context.Context, p hostapi.UploadVolumeImageParams) (hostapi.UploadVolumeImageResult, error) {
				assert.Equal(t, sftpURL, p.UploadURL)
				assert.Empty(t, p.Token)
				return hostapi.UploadVolumeImageResult{Format: "qcow2", ActualSize: 1234, MD5Sum: "abcd"}, step(hostapi.ActUploadVolumeImage)
			})
			add(hostapi.ActDeleteVolumeSnapshot, func(context.Context, hostapi.DeleteVolumeSnapshotParams) error {
				return step(hostapi.ActDeleteVolumeSnapshot)
			})
			add(bsapi.ActAllowUpload, func(context.Context, bsapi.AllowUploadParams) (bsapi.AllowUploadResult, error) {
				return bsapi.AllowUploadResult{}, step(bsapi.ActAllowUpload)
			})
			add(bsapi.ActImportFile, func(_ context.Context, p bsapi.ImportFileParams) (bsapi.ImageResult, error) {
				imported = p
				return bsapi.ImageResult{ImageUUID: "img", InstallPath: "/bs/images/img.qcow2", Format: "qcow2", ActualSize: 1234, MD5Sum: "abcd"},
					step(bsapi.ActImportFile)
			})
			add(bsapi.ActDeleteImage, func(context.Context, bsapi.DeleteImageParams) error { return step(bsapi.ActDeleteImage) })
			add(activities.ImageRecordDownloaded, func(_ context.Context, p activities.ImageDownloadedParams) error {
				assert.Equal(t, "/bs/images/img.qcow2", p.InstallPath)
				return step(activities.ImageRecordDownloaded)
			})
			add(activities.Inventory, func(context.Context, activities.InventoryParams) (activities.Result, error) {
				return activities.Result{Key: "inventory", Value: []byte(`{}`)}, step(activities.Inventory)
			})
			env.ExecuteWorkflow(workflows.CreateImageFromVolumeWorkflow, activities.ImageFromVolumeParams{ImageUUID: "img"})
			require.True(t, env.IsWorkflowCompleted())
			require.Error(t, env.GetWorkflowError())

			want := append([]string{}, forward[:i+1]...)
			// Compensations, newest first: the temporary snapshot's and the
			// backup storage's are registered before their steps run.
			var comps []string
			if i >= 2 {
				comps = append(comps, hostapi.ActDeleteVolumeSnapshot)
			}
			if i >= 1 {
				comps = append(comps, bsapi.ActDeleteImage, activities.ImageDeleteRecord)
			}
			want = append(want, comps...)
			require.Equal(t, strings.Join(want, "\n"), strings.Join(calls, "\n"))
			if i >= 3 {
				require.Equal(t, &bsapi.WrittenFile{ActualSize: 1234, MD5Sum: "abcd"}, imported.Written, "the agent checks what the host wrote")
			}
		})
	}
}
