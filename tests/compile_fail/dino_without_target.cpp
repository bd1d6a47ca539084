// expect: selfsup::Trainer: the loss reads the momentum target's outputs t0, t1 (DINO's teacher, MoCo v3's keys), but the encoder has no momentum target
#include <selfsup/selfsup.hpp>

// An encoder without a momentum teacher: DINO would have no teacher outputs to distil.
struct StudentOnlyImpl : torch::nn::Module {
  torch::nn::Linear head{nullptr};
  StudentOnlyImpl() { head = register_module("head", torch::nn::Linear(3, 4)); }
  torch::Tensor features(const torch::Tensor& x) { return x.mean({2, 3}); }
  torch::Tensor forward(const torch::Tensor& x) { return head(features(x)); }
};
TORCH_MODULE(StudentOnly);
using DINO = selfsup::Recipe<selfsup::views::MultiCrop, selfsup::pairs::Augmented, selfsup::negatives::None,
                             selfsup::losses::DINO>;
int main() {
  selfsup::Trainer trainer(DINO{}, StudentOnly(), {});
  (void)trainer;
}
