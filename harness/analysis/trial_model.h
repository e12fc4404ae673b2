#pragma once
// A trained trial outside its sweep: its resolved config and its final checkpoint, found in the
// results database by the trial key, as a model for `focalab predict / eval / export --trial`.

#include <cstdint>
#include <string>
#include <vector>

#include "harness/config/trial_config.h"
#include "harness/store/store.h"
#include "models/retinanet.h"

namespace focalab::harness {
inline namespace analysis {

// The checkpoint file of trial `key`: `recorded` (the path the results database holds), or the
// default place beside `db_path` (DB-checkpoints/KEY.pth) when `recorded` is relative and gone
// there but present beside the database (a sweep run from another directory). Throws DataError
// when there is none or the file does not exist.
std::string trial_checkpoint_file(const std::string& db_path, const std::string& key,
                                  const std::string& recorded);

// Trial `key` of `store` (the results database at `db_path`), which must be done; `who` names the
// command in the error ("analyze loss-cdf"). Throws UsageError for an unknown key or a trial in
// another state.
StoredTrial find_done_trial(Store& store, const std::string& db_path, const std::string& key,
                            const std::string& who);

struct TrainedTrial {
  std::string key;
  TrialConfig config;        // finalized; data.num_classes from the checkpoint's head
  std::string checkpoint;    // the file the weights came from
  int64_t iteration = 0;     // iterations the checkpoint was trained for
  models::RetinaNet model{nullptr};  // on the CPU, eval mode
};

// Loads trial `key` of the results database `db_path`: its config, and the weights of
// `checkpoint` (default: the trial's own, see trial_checkpoint_file). `data_root` replaces
// data.root (not stored with a trial) for COCO trials. Throws UsageError for an unknown key or a
// trial that is not done, DataError for a missing or unreadable checkpoint, StoreError for a
// database that is not focalab's.
TrainedTrial load_trained_trial(const std::string& db_path, const std::string& key,
                                const std::string& checkpoint = {},
                                const std::string& data_root = {},
                                const std::string& who = "this command");

// The COCO category id of each of a trial's labels (label k -> ids[k]): 1..K for synthetic data
// (as `focalab data synth` writes them), the annotations' ids in increasing order for COCO data
// (focalab's label order). Throws DataError when a COCO trial's annotations cannot be read.
std::vector<int64_t> trial_category_ids(const TrialConfig& config);

}  // namespace analysis
}  // namespace focalab::harness
