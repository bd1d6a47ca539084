// expect: selfsup::Trainer: the loss scores projections against prototypes (SwAV), but the encoder has no prototypes
#include <selfsup/selfsup.hpp>

// An encoder with a projection but no prototypes: SwAV would have nothing to assign codes over.
struct NoPrototypesImpl : torch::nn::Module {
  torch::nn::Linear head{nullptr};
  NoPrototypesImpl() { head = register_module("head", torch::nn::Linear(3, 4)); }
  torch::Tensor features(const torch::Tensor& x) { return x.mean({2, 3}); }
  torch::Tensor forward(const torch::Tensor& x) { return head(features(x)); }
};
TORCH_MODULE(NoPrototypes);
using SwAV = selfsup::Recipe<selfsup::views::MultiCrop, selfsup::pairs::Augmented, selfsup::negatives::None,
                             selfsup::losses::SwAV>;
int main() {
  selfsup::Trainer trainer(SwAV{}, NoPrototypes(), {});
  (void)trainer;
}
