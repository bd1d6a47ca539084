// expect: static assertion failed: selfsup: a member of a policy, encoder or hook has another signature than the one selfsup calls
// expect-also: wrong_signature<Logger, selfsup::member::on_log, void(selfsup::contract::the_trainer&, const selfsup::StepLog&), void (Logger::*)(const selfsup::StepLog&)>
#include <selfsup/selfsup.hpp>

struct Logger {  // forgets the trainer argument: a hook that would never be called
  void on_log(const selfsup::StepLog&) {}
};
int main() {
  namespace ss = selfsup;
  auto data = ss::data::make_synthetic({.classes = 2, .per_class = 4});
  ss::Trainer trainer(ss::recipes::SimCLR{}, ss::models::make_small_cnn_encoder(), {.batch_size = 4});
  Logger logger;
  trainer.fit(data, logger);
}
