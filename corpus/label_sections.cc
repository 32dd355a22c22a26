// The FDA label section table (LOINC code and openFDA field name -> key and heading) and the
// small helpers the openFDA and SPL readers share.
//
// LOINC codes and names are those of openFDA's spl/data/sections.csv and loinc.csv (every code
// there is in the table); keys are openFDA's drug label field names.
#include "corpus/label_sections.h"

#include <algorithm>
#include <cctype>

namespace medsearch::corpus::label {

namespace {

// Canonical order: the order of a prescription label (PLR), with the OTC "Drug Facts" fields
// where a Drug Facts panel puts them, then patient information, then everything that is not
// about human drugs (animal, device, food), then metadata. openFDA sections come out in this
// order; SPL sections keep the document's own order.
constexpr LabelSection kSections[] = {
    {"boxed_warning", "Boxed Warning", "34066-1"},
    {"recent_major_changes", "Recent Major Changes", "43683-2", false},
    {"active_ingredient", "Active Ingredient", "55106-9"},
    {"purpose", "Purpose", "55105-1"},
    {"indications_and_usage", "Indications and Usage", "34067-9"},
    {"dosage_and_administration", "Dosage and Administration", "34068-7"},
    {"dosage_forms_and_strengths", "Dosage Forms and Strengths", "43678-2"},
    {"contraindications", "Contraindications", "34070-3"},
    {"warnings_and_cautions", "Warnings and Precautions", "43685-7"},
    {"warnings", "Warnings", "34071-1"},
    {"do_not_use", "Do Not Use", "50570-1"},
    {"ask_doctor", "Ask a Doctor", "50569-3"},
    {"ask_doctor_or_pharmacist", "Ask a Doctor or Pharmacist", "50568-5"},
    {"when_using", "When Using", "50567-7"},
    {"stop_use", "Stop Use", "50566-9"},
    {"pregnancy_or_breast_feeding", "Pregnancy or Breast-Feeding", "53414-9"},
    {"keep_out_of_reach_of_children", "Keep Out of Reach of Children", "50565-1"},
    {"directions", "Directions", ""},  // openFDA puts Drug Facts directions in dosage_and_administration
    {"other_safety_information", "Other Safety Information", "60561-8"},
    {"inactive_ingredient", "Inactive Ingredients", "51727-6"},
    {"questions", "Questions", "53413-1"},
    {"precautions", "Precautions", "42232-9"},
    {"general_precautions", "General Precautions", "34072-9"},
    {"adverse_reactions", "Adverse Reactions", "34084-4"},
    {"drug_interactions", "Drug Interactions", "34073-7"},
    {"drug_and_or_laboratory_test_interactions", "Drug and/or Laboratory Test Interactions", "34074-5"},
    {"laboratory_tests", "Laboratory Tests", "34075-2"},
    {"use_in_specific_populations", "Use in Specific Populations", "43684-0"},
    {"pregnancy", "Pregnancy", "42228-7"},
    {"teratogenic_effects", "Teratogenic Effects", "34077-8"},
    {"nonteratogenic_effects", "Nonteratogenic Effects", "34078-6"},
    {"labor_and_delivery", "Labor and Delivery", "34079-4"},
    {"nursing_mothers", "Nursing Mothers", "34080-2"},
    {"pediatric_use", "Pediatric Use", "34081-0"},
    {"geriatric_use", "Geriatric Use", "34082-8"},
    {"drug_abuse_and_dependence", "Drug Abuse and Dependence", "42227-9"},
    {"controlled_substance", "Controlled Substance", "34085-1"},
    {"abuse", "Abuse", "34086-9"},
    {"dependence", "Dependence", "34087-7"},
    {"overdosage", "Overdosage", "34088-5"},
    {"description", "Description", "34089-3"},
    {"clinical_pharmacology", "Clinical Pharmacology", "34090-1"},
    {"mechanism_of_action", "Mechanism of Action", "43679-0"},
    {"pharmacodynamics", "Pharmacodynamics", "43681-6"},
    {"pharmacokinetics", "Pharmacokinetics", "43682-4"},
    {"pharmacogenomics", "Pharmacogenomics", "66106-6"},
    {"microbiology", "Microbiology", "49489-8"},
    {"nonclinical_toxicology", "Nonclinical Toxicology", "43680-8"},
    {"carcinogenesis_and_mutagenesis_and_impairment_of_fertility",
     "Carcinogenesis, Mutagenesis, Impairment of Fertility", "34083-6"},
    {"animal_pharmacology_and_or_toxicology", "Animal Pharmacology and/or Toxicology", "34091-9"},
    {"clinical_studies", "Clinical Studies", "34092-7"},
    {"references", "References", "34093-5", false},
    {"how_supplied", "How Supplied", "34069-5"},
    {"storage_and_handling", "Storage and Handling", "44425-7"},
    {"patient_counseling_information", "Patient Counseling Information", ""},
    {"information_for_patients", "Information for Patients", "34076-0"},
    {"spl_medguide", "Medication Guide", "42231-1"},
    {"spl_patient_package_insert", "Patient Package Insert", "42230-3"},
    {"patient_medication_information", "Patient Medication Information", "68498-5"},
    {"instructions_for_use", "Instructions for Use", "59845-8"},
    {"route", "Route, Method and Frequency of Administration", "60562-6"},
    {"risks", "Risks", "69759-9"},
    {"health_care_provider_letter", "Health Care Provider Letter", "71744-7"},
    {"summary_of_safety_and_effectiveness", "Summary of Safety and Effectiveness", "60563-4"},
    {"cellular_therapy", "Cellular Therapy", "60684-8"},
    {"statement_of_identity", "Statement of Identity", "69718-5"},
    {"health_claim", "Health Claim", "69719-3"},
    // Animal drugs, feed and food.
    {"veterinary_indications", "Veterinary Indications", "50745-9"},
    {"information_for_owners_or_caregivers", "Information for Owners/Caregivers", "50744-2"},
    {"user_safety_warnings", "User Safety Warnings", "54433-8"},
    {"residue_warning", "Residue Warning", "53412-3"},
    {"safe_handling_warning", "Safe Handling Warning", "50741-8"},
    {"environmental_warning", "Environmental Warning", "50742-6"},
    {"food_safety_warning", "Food Safety Warning", "50743-4"},
    {"guaranteed_analysis_of_feed", "Guaranteed Analysis of Feed", "50740-0"},
    // Devices.
    {"intended_use_of_the_device", "Intended Use of the Device", "60560-0"},
    {"components", "Components", "60559-2"},
    {"accessories", "Accessories", "60555-0"},
    {"compatible_accessories", "Compatible Accessories", "69760-7"},
    {"diagram_of_device", "Diagram of Device", "69758-1"},
    {"assembly_or_installation_instructions", "Assembly or Installation Instructions", "60556-8"},
    {"calibration_instructions", "Calibration Instructions", "60557-6"},
    {"cleaning", "Cleaning, Disinfecting, and Sterilization Instructions", "60558-4"},
    {"alarms", "Alarms", "69761-5"},
    {"troubleshooting", "Troubleshooting", "69762-3"},
    {"disposal_and_waste_handling", "Disposal and Waste Handling", "69763-1"},
    // Text that the label does not classify; SPL headings come from the section's own title.
    {"spl_unclassified_section", "Additional Information", "42229-5"},
    // Metadata.
    {"package_label_principal_display_panel", "Package Label: Principal Display Panel", "51945-4", false},
    {"spl_product_data_elements", "SPL Product Data Elements", "48780-1", false},
    {"spl_indexing_data_elements", "SPL Indexing Data Elements", "48779-3", false},
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::span<const LabelSection> label_sections() { return kSections; }

const LabelSection* find_section_by_key(std::string_view key) {
  for (const auto& s : kSections)
    if (s.key == key) return &s;
  return nullptr;
}

const LabelSection* find_section_by_loinc(std::string_view code) {
  if (code.empty()) return nullptr;
  for (const auto& s : kSections)
    if (s.loinc == code) return &s;
  return nullptr;
}

bool is_openfda_metadata_field(std::string_view field) {
  static constexpr std::string_view kIdentity[] = {"openfda", "set_id", "id", "version", "effective_time"};
  if (std::find(std::begin(kIdentity), std::end(kIdentity), field) != std::end(kIdentity)) return true;
  if (field.empty() || field.front() == '@') return true;
  if (field.size() >= 6 && field.substr(field.size() - 6) == "_table") return true;
  const LabelSection* s = find_section_by_key(field);
  return s != nullptr && !s->indexed;
}

std::string heading_from_field(std::string_view field) {
  static constexpr std::string_view kSmall[] = {"and", "or", "of", "the", "for", "to", "in", "with", "a"};
  std::string out;
  std::size_t start = 0;
  while (start <= field.size()) {
    std::size_t end = field.find('_', start);
    if (end == std::string_view::npos) end = field.size();
    std::string word(field.substr(start, end - start));
    if (!word.empty()) {
      const bool small = !out.empty() && std::find(std::begin(kSmall), std::end(kSmall), word) != std::end(kSmall);
      if (!small) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
      if (!out.empty()) out += ' ';
      out += word;
    }
    start = end + 1;
  }
  return out;
}

std::string dailymed_url(std::string_view set_id) {
  return "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=" + std::string(set_id);
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string collapse_space(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    // Labels use no-break spaces (U+00A0, UTF-8 C2 A0) as layout, e.g. between <br/>s.
    const bool nbsp = c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0';
    if (is_space(c) || nbsp) {
      pending = !out.empty();
      if (nbsp) ++i;
    } else {
      if (pending) out += ' ';
      pending = false;
      out += c;
    }
  }
  return out;
}

std::string generic_for_drugs(std::string_view name) { return lower_ascii(collapse_space(name)); }

void add_drug(std::vector<std::string>& drugs, std::string_view name) {
  std::string clean = collapse_space(name);
  if (clean.empty()) return;
  const std::string folded = lower_ascii(clean);
  for (const auto& d : drugs)
    if (lower_ascii(d) == folded) return;
  drugs.push_back(std::move(clean));
}

std::string label_title(std::string_view brand_in, std::string_view generic_in) {
  const std::string brand = collapse_space(brand_in);
  std::string generic = collapse_space(generic_in);
  // openFDA and SPL often write generic names in capitals ("ADALIMUMAB"); in a title they read
  // better in lower case, as the label's own text writes them.
  const bool has_lower = std::any_of(generic.begin(), generic.end(), [](unsigned char c) { return std::islower(c); });
  if (!has_lower) generic = lower_ascii(generic);
  if (brand.empty() && generic.empty()) return {};
  if (brand.empty()) return generic + " label";
  if (generic.empty() || lower_ascii(brand) == lower_ascii(generic)) return brand + " label";
  return brand + " (" + generic + ") label";
}

std::string date_from_compact(std::string_view value) {
  std::size_t digits = 0;
  while (digits < value.size() && std::isdigit(static_cast<unsigned char>(value[digits]))) ++digits;
  // HL7 TS values may carry a time and a zone after the date ("20130930120000-0400").
  if (digits >= 8) return std::string(value.substr(0, 4)) + "-" + std::string(value.substr(4, 2)) + "-" +
                          std::string(value.substr(6, 2));
  if (digits != value.size()) return {};
  if (digits == 6) return std::string(value.substr(0, 4)) + "-" + std::string(value.substr(4, 2));
  if (digits == 4) return std::string(value);
  return {};
}

}  // namespace medsearch::corpus::label
