// expect: selfsup::Trainer: the loss reads the predictor's outputs p0, p1 (BYOL, SimSiam), but the encoder has no predictor
#include <selfsup/selfsup.hpp>

// An encoder with only a projection: BYOL would have no predictions to compare.
struct PlainImpl : torch::nn::Module {
  torch::nn::Linear head{nullptr};
  PlainImpl() { head = register_module("head", torch::nn::Linear(3, 4)); }
  torch::Tensor features(const torch::Tensor& x) { return x.mean({2, 3}); }
  torch::Tensor forward(const torch::Tensor& x) { return head(features(x)); }
};
TORCH_MODULE(Plain);
using BYOL = selfsup::Recipe<selfsup::views::CropFlip, selfsup::pairs::Augmented, selfsup::negatives::None,
                             selfsup::losses::BYOL>;
int main() {
  selfsup::Trainer trainer(BYOL{}, Plain(), {});
  (void)trainer;
}
