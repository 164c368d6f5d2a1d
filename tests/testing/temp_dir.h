// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
#ifndef HFSHIM_TESTS_TESTING_TEMP_DIR_H_
#define HFSHIM_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace hfshim {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace hfshim

#endif  // HFSHIM_TESTS_TESTING_TEMP_DIR_H_
